/**
 * Rate limits failed authentications per source address: each source has a bucket of
 * `burst` failures that refills at `perSecond`; with the bucket empty, the source's every
 * request gets 429 before any key is looked at, so keys and tokens cannot be guessed at speed.
 *
 * In process: locally that is the whole API; on AWS it is per Lambda instance, so a source
 * spread over many instances gets `burst` per instance (API Gateway's stage throttling bounds
 * the total rate). Successful requests cost nothing.
 */
export interface FailedAuthLimits {
  burst: number;
  perSecond: number;
}

export const DEFAULT_FAILED_AUTH_LIMITS: FailedAuthLimits = { burst: 30, perSecond: 0.5 };

/** Sources remembered at most; the least recently failing are forgotten first. */
const MAX_SOURCES = 10_000;

export class FailedAuthLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limits: FailedAuthLimits = DEFAULT_FAILED_AUTH_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the source may try again, or undefined when it may now. */
  retryAfter(source: string): number | undefined {
    const tokens = this.#tokens(source);
    if (tokens >= 1) return undefined;
    return Math.max(1, Math.ceil((1 - tokens) / this.limits.perSecond));
  }

  /** Counts one failed authentication of the source. */
  failed(source: string): void {
    const tokens = this.#tokens(source) - 1;
    this.#buckets.delete(source); // re-inserted last: the map stays in order of last failure
    this.#buckets.set(source, { tokens, at: this.now() });
    if (this.#buckets.size > MAX_SOURCES) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
  }

  #tokens(source: string): number {
    const bucket = this.#buckets.get(source);
    if (bucket === undefined) return this.limits.burst;
    const refilled = ((this.now() - bucket.at) / 1000) * this.limits.perSecond;
    return Math.min(this.limits.burst, bucket.tokens + refilled);
  }
}
