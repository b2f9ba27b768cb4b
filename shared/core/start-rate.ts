/**
 * A tenant's start rate (`startsPerSecond`, `burst`), enforced as GCRA: the generic cell rate
 * algorithm, a token bucket kept as one number per tenant, its "theoretical arrival time" (TAT).
 * Each admitted start pushes the TAT one interval (1 / startsPerSecond) later; a start is
 * admitted while the TAT is at most `burst - 1` intervals ahead of now. A full bucket lets `burst`
 * starts through at once, then one per interval.
 *
 * Times are whole microseconds since the epoch: exact arithmetic in JavaScript and in DynamoDB
 * (which adds numbers in decimal), and an interval within 0.05 % of the rate asked for at 1,000/s.
 */
import { z } from "zod";

export const START_RATE_LIMITS = {
  /**
   * Every admitted start is one write to the tenant's one rate item, and DynamoDB takes about
   * 1,000 writes per second on one item: a higher rate could not be kept, only throttled.
   */
  maxStartsPerSecond: 1_000,
  /** One start every 10,000 s (2.8 h): slower is not a rate limit but a stop. */
  minStartsPerSecond: 0.0001,
  maxBurst: 10_000,
} as const;

/**
 * The start-rate fields of TenantLimits (shared/core/tenant.ts). Unset: no rate limit.
 * `burst` defaults to ceil(startsPerSecond), one second's worth.
 */
export const StartRateFields = {
  startsPerSecond: z
    .number()
    .min(START_RATE_LIMITS.minStartsPerSecond)
    .max(START_RATE_LIMITS.maxStartsPerSecond)
    .optional()
    .describe(
      `Starts per second the tenant may make (API, ctx.tasks.start, chains, cron), ${START_RATE_LIMITS.minStartsPerSecond} to ${START_RATE_LIMITS.maxStartsPerSecond}; unset: no limit`,
    ),
  burst: z
    .number()
    .int()
    .min(1)
    .max(START_RATE_LIMITS.maxBurst)
    .optional()
    .describe("Starts allowed at once when the tenant has been idle; default ceil(startsPerSecond)"),
};

/** A tenant's start rate with its default filled in. */
export interface StartRate {
  startsPerSecond: number;
  burst: number;
}

/** The start rate in force for these limits; undefined when there is none. */
export function startRateOf(limits: { startsPerSecond?: number; burst?: number } | undefined) {
  if (limits?.startsPerSecond === undefined) return undefined;
  return {
    startsPerSecond: limits.startsPerSecond,
    burst: limits.burst ?? defaultBurst(limits.startsPerSecond),
  } satisfies StartRate;
}

export function defaultBurst(startsPerSecond: number): number {
  return Math.max(1, Math.ceil(startsPerSecond));
}

/** A start rate as GCRA works with it, in microseconds. */
export interface GcraRule {
  /** Between two starts at the steady rate. */
  intervalUs: number;
  /** burst × interval: how far ahead of now the TAT may be pushed in all. */
  windowUs: number;
}

export function gcraRule(rate: StartRate): GcraRule {
  const intervalUs = Math.max(1, Math.round(1_000_000 / rate.startsPerSecond));
  return { intervalUs, windowUs: rate.burst * intervalUs };
}

export function microsOf(time: Date): number {
  return time.getTime() * 1000;
}

/**
 * The highest TAT that still admits a start at `nowUs`. A stored TAT in [now, admitUpTo] admits
 * by moving one interval on; one below now admits by restarting at now + interval (the bucket
 * filled up while idle); one above refuses.
 */
export function admitUpToUs(rule: GcraRule, nowUs: number): number {
  return nowUs + rule.windowUs - rule.intervalUs;
}

export type GcraDecision = { admitted: true; tatUs: number } | { admitted: false; retryAfterSeconds: number };

/**
 * Whether a start at `nowUs` is admitted, given the stored TAT (undefined: never started), and
 * the TAT to store when it is. Pure: the memory store applies it as is, the DynamoDB store as
 * two conditional writes (shared/aws/dynamo-start-rate-store.ts) that decide the same.
 *
 * @example
 * const rule = gcraRule({ startsPerSecond: 1, burst: 2 });
 * gcraDecide(undefined, rule, 0); // admitted, tat 1 s
 * gcraDecide(1_000_000, rule, 0); // admitted, tat 2 s
 * gcraDecide(2_000_000, rule, 0); // refused, retry after 1 s
 */
export function gcraDecide(tatUs: number | undefined, rule: GcraRule, nowUs: number): GcraDecision {
  const from = tatUs === undefined || tatUs < nowUs || isStaleTat(tatUs, rule, nowUs) ? nowUs : tatUs;
  if (from > admitUpToUs(rule, nowUs)) {
    return { admitted: false, retryAfterSeconds: retryAfterSeconds(from, rule, nowUs) };
  }
  return { admitted: true, tatUs: from + rule.intervalUs };
}

/**
 * A TAT beyond now + window cannot come from this rule (admitting never pushes it further): it
 * was stored under a slower rate or a larger burst the operator has since changed. The bucket then
 * starts again from now, as if idle, instead of refusing for as long as the old rule would have.
 * (An instance whose clock runs a few milliseconds behind may take a fresh TAT for a stale one
 * and admit one start more: clocks are the bucket's precision either way.)
 */
export function isStaleTat(tatUs: number, rule: GcraRule, nowUs: number): boolean {
  return tatUs > nowUs + rule.windowUs;
}

/**
 * Whole seconds until a refused start would be admitted: when now has caught up with
 * TAT - window + interval. At least 1, as a Retry-After of 0 invites a busy loop.
 */
export function retryAfterSeconds(tatUs: number, rule: GcraRule, nowUs: number): number {
  return Math.max(1, Math.ceil((tatUs - rule.windowUs + rule.intervalUs - nowUs) / 1_000_000));
}
