/**
 * Typed domain errors. Each carries a stable snake_case `code` that the API returns as `error`,
 * so callers can branch on it; `message` is for humans. The API maps them to HTTP statuses in
 * one place (functions/api/http.ts); nothing here knows about HTTP.
 */
export abstract class BatonError extends Error {
  abstract readonly code: string;
  readonly details?: unknown;

  constructor(message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details;
  }
}

/** Input that can never succeed as sent (schema, names, sizes). */
export class ValidationError extends BatonError {
  readonly code: string = "validation_failed";
}

export class PayloadTooLargeError extends BatonError {
  readonly code: string = "payload_too_large";
}

/**
 * A record would pass DynamoDB's 400 KB item limit (a run with its params, output, feedback,
 * logs and once results together). Nothing was written.
 */
export class ItemTooLargeError extends PayloadTooLargeError {
  override readonly code: string = "payload_too_large";
}

/** A resource of the caller's tenant that does not exist. Also used for other tenants' resources. */
export class NotFoundError extends BatonError {
  readonly code: string = "not_found";
}

/** The request conflicts with the current state (already exists, already finished). */
export class ConflictError extends BatonError {
  readonly code: string = "conflict";
}

export class UnauthorizedError extends BatonError {
  readonly code: string = "unauthorized";
}

export class ForbiddenError extends BatonError {
  readonly code: string = "forbidden";
}

/** A definition's waiting line is full (`maxQueueLength`): nothing was written; try later. */
export class QueueFullError extends BatonError {
  readonly code: string = "queue_full";
}

/**
 * The tenant starts faster than its `startsPerSecond` allows (shared/core/start-rate.ts): nothing
 * was written; the same start may succeed after `retryAfterSeconds`. The API answers 429 with a
 * Retry-After header; `ctx.tasks.start` throws it for the handler to catch.
 */
export class RateLimitedError extends BatonError {
  readonly code: string = "rate_limited";
  readonly retryAfterSeconds: number;

  constructor(message: string, options: { retryAfterSeconds: number; details?: Record<string, unknown> }) {
    super(message, { details: { retryAfterSeconds: options.retryAfterSeconds, ...options.details } });
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** A run error code: snake_case, so callers can branch on it. */
const RUN_ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Thrown by a task handler to fail the run at once, without the retries left. The run's error
 * code is `non_retriable`, or `code` when given (snake_case).
 *
 * @example
 * if (!customer) throw new NonRetriableError(`customer ${id} does not exist`);
 * throw new NonRetriableError("the server refused the login", { code: "destination_auth_failed" });
 */
export class NonRetriableError extends Error {
  readonly code: string;

  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "NonRetriableError";
    this.code = checkedCode(options?.code ?? "non_retriable");
  }
}

/**
 * Thrown by a task handler to retry the run, as any error does, while naming what went wrong:
 * the run's error shows `code` (snake_case) instead of `handler_error`.
 *
 * @example
 * throw new RetriableError("destination_unreachable", "sftp.example.com:22 did not answer");
 */
export class RetriableError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RetriableError";
    checkedCode(code);
  }
}

function checkedCode(code: string): string {
  if (!RUN_ERROR_CODE.test(code)) throw new Error(`error code "${code}" must be snake_case, 1-64 characters`);
  return code;
}

/** The code a handler's error names for the run, if it names a valid one. */
export function runErrorCodeOf(error: unknown): string | undefined {
  if (!(error instanceof Error) || !("code" in error) || typeof error.code !== "string") return undefined;
  return RUN_ERROR_CODE.test(error.code) ? error.code : undefined;
}

/**
 * A dependency of the platform (the database, the queue) did not answer or was overloaded,
 * after the SDK's own retries. Not the caller's fault: the API answers 503 with Retry-After.
 * Deliberately not a BatonError: code that turns BatonErrors into a refusal (a chain's failed
 * outcome) must let this one through to be retried.
 */
export class UnavailableError extends Error {
  readonly code = "unavailable";
  constructor(
    readonly dependency: string,
    options?: { cause?: unknown },
  ) {
    super(`${dependency} is unavailable; try again shortly`, options);
    this.name = "UnavailableError";
  }
}
