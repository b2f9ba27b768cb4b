/**
 * Injects DynamoDB and SQS failures through SDK middleware, at a seeded rate, so a fault test
 * can be replayed from its seed. Two places in the SDK's middleware stack:
 *
 * - `sdk-retried`: inside the SDK's retry loop (the deserialize step). The SDK retries these with
 *   backoff, as it would on AWS; a fault injected *after* the request reached the server makes
 *   the retry of a conditional write fail its condition (the write had already been applied).
 * - `app-seen`: outside the retry loop (the initialize step): what Baton sees once the SDK's
 *   retries are used up, including "it was applied, but you get an error".
 */
import type { InstrumentableClient } from "../../shared/aws/instrument.ts";

export const FAULT_KINDS = [
  /** DynamoDB's throttling error (SQS: ThrottlingException); the SDK retries it. */
  "throttled",
  /** 500 InternalServerError; the SDK retries it. */
  "server-error",
  /** The connection dropped before an answer (ECONNRESET); the SDK retries it. */
  "network",
  /** The server applied the call, then the answer was lost (500 or ECONNRESET after the fact). */
  "applied-then-failed",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultPlace = "sdk-retried" | "app-seen";

/** mulberry32: a small, fast, seedable generator; the same seed gives the same faults in order. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultInjectorOptions {
  seed: number;
  /** Chance that one call (one SDK attempt, for `sdk-retried`) fails. */
  rate: number;
  /** Services (SDK client names without "Client") to fail; others pass untouched. */
  services?: readonly string[];
}

export class FaultInjector {
  readonly seed: number;
  readonly rate: number;
  /** Off until a test turns it on, so the stack's own set-up (tables, queue) is never failed. */
  enabled = false;
  readonly #random: () => number;
  readonly #services: ReadonlySet<string>;
  readonly #counts = new Map<string, number>();
  #calls = 0;

  constructor(options: FaultInjectorOptions) {
    this.seed = options.seed;
    this.rate = options.rate;
    this.#random = seededRandom(options.seed);
    this.#services = new Set(options.services ?? ["DynamoDB", "SQS"]);
  }

  /** Adds both middlewares to a client; pass as `instrumentClient` to the local stack. */
  readonly instrument = (client: InstrumentableClient): void => {
    client.middlewareStack.add((next, context) => this.#middleware(next, context, "app-seen"), {
      step: "initialize",
      name: "batonFaultsAppSeen",
    });
    client.middlewareStack.add((next, context) => this.#middleware(next, context, "sdk-retried"), {
      step: "deserialize",
      // Outside the deserializer, so an injected error looks like a parsed service error.
      priority: "high",
      name: "batonFaultsSdkRetried",
    });
  };

  /** Faults injected so far, by place and kind, e.g. `{"app-seen/throttled": 12}`. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.#counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  total(): number {
    return [...this.#counts.values()].reduce((sum, n) => sum + n, 0);
  }

  /** Calls that went through the injector while it was on (faulted or not). */
  calls(): number {
    return this.#calls;
  }

  // biome-ignore lint/suspicious/noExplicitAny: a middleware sits in every client's stack, whatever its types
  #middleware(next: (args: any) => Promise<any>, context: any, place: FaultPlace) {
    // biome-ignore lint/suspicious/noExplicitAny: see above
    return async (args: any) => {
      const service = String(context.clientName ?? "").replace(/Client$/, "");
      if (!this.enabled || !this.#services.has(service)) return next(args);
      this.#calls += 1;
      // Half the rate in each place: a call meets both on its way.
      if (this.#random() >= this.rate / 2) return next(args);
      const kind = FAULT_KINDS[Math.floor(this.#random() * FAULT_KINDS.length)] ?? "server-error";
      const key = `${place}/${kind}`;
      this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
      if (kind === "applied-then-failed") {
        await next(args);
        throw this.#random() < 0.5 ? serverError(service) : networkError();
      }
      throw kind === "throttled"
        ? throttled(service)
        : kind === "network"
          ? networkError()
          : serverError(service);
    };
  }
}

function serviceError(name: string, status: number, message: string, throttling = false): Error {
  return Object.assign(new Error(`${message} (injected)`), {
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, attempts: 1, totalRetryDelay: 0 },
    ...(throttling ? { $retryable: { throttling: true } } : {}),
  });
}

function throttled(service: string): Error {
  return service === "DynamoDB"
    ? serviceError(
        "ProvisionedThroughputExceededException",
        400,
        "The level of configured provisioned throughput for the table was exceeded",
        true,
      )
    : serviceError("ThrottlingException", 400, "Rate exceeded", true);
}

function serverError(service: string): Error {
  return serviceError(
    service === "DynamoDB" ? "InternalServerError" : "InternalFailure",
    500,
    "Internal server error",
  );
}

function networkError(): Error {
  return Object.assign(new Error("socket hang up (injected)"), { code: "ECONNRESET" });
}
