/**
 * What the client throws. Every failure the API answers becomes a `BatonApiError` (or one of its
 * subclasses for the common cases) carrying the API's `{error, message, details}`; a request that
 * never got an answer becomes a `BatonConnectionError`.
 *
 * @example
 * try {
 *   await client.startTask({ definition: "report" });
 * } catch (error) {
 *   if (error instanceof BatonQueueFullError) return retryLater();
 *   if (error instanceof BatonRateLimitedError) return retryIn(error.retryAfterSeconds);
 *   throw error;
 * }
 */

/** The base of everything the client throws on purpose. */
export class BatonClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The kinds of API error worth branching on, by HTTP status. */
export const ApiErrorKind = {
  validation: "validation",
  unauthorized: "unauthorized",
  forbidden: "forbidden",
  not_found: "not_found",
  conflict: "conflict",
  payload_too_large: "payload_too_large",
  queue_full: "queue_full",
  rate_limited: "rate_limited",
  server: "server",
  other: "other",
} as const;
export type ApiErrorKind = (typeof ApiErrorKind)[keyof typeof ApiErrorKind];

export interface ApiErrorBody {
  /** The API's snake_case code, e.g. `not_found`, `queue_full`, `validation_failed`, `invalid_json`. */
  error: string;
  message: string;
  details?: unknown;
}

/** The API answered with an error status. */
export class BatonApiError extends BatonClientError {
  /** What kind of failure this is, from the status (stable even when a code is new). */
  readonly kind: ApiErrorKind;
  readonly status: number;
  /** The API's `error` code. */
  readonly error: string;
  readonly details: unknown;
  readonly method: string;
  readonly path: string;

  constructor(init: { status: number; body: ApiErrorBody; method: string; path: string }) {
    super(init.body.message);
    this.status = init.status;
    this.error = init.body.error;
    this.details = init.body.details;
    this.method = init.method;
    this.path = init.path;
    this.kind = kindOf(init.status, init.body.error);
  }
}

export class BatonValidationError extends BatonApiError {}
export class BatonUnauthorizedError extends BatonApiError {}
export class BatonForbiddenError extends BatonApiError {}
export class BatonNotFoundError extends BatonApiError {}
export class BatonConflictError extends BatonApiError {}
export class BatonPayloadTooLargeError extends BatonApiError {}
/** The definition's waiting line is full (`maxQueueLength`): nothing was started; try later. */
export class BatonQueueFullError extends BatonApiError {}
/** The tenant starts faster than its `startsPerSecond` allows: nothing was started; try after `retryAfterSeconds`. */
export class BatonRateLimitedError extends BatonApiError {
  /** Whole seconds until a start would be admitted (the answer's Retry-After). */
  get retryAfterSeconds(): number | undefined {
    const value = (this.details as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
    return typeof value === "number" ? value : undefined;
  }
}

/** The request got no answer: refused, reset, DNS failure or timed out. */
export class BatonConnectionError extends BatonClientError {
  readonly url: string;
  constructor(url: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.url = url;
  }
}

function kindOf(status: number, error: string): ApiErrorKind {
  // Two different 429s: a full waiting line, and a tenant over its start rate.
  if (status === 429 && error === "rate_limited") return "rate_limited";
  switch (status) {
    case 400:
      return "validation";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 429:
      return "queue_full";
    default:
      return status >= 500 ? "server" : "other";
  }
}

const ERROR_CLASS_BY_KIND: Partial<Record<ApiErrorKind, typeof BatonApiError>> = {
  validation: BatonValidationError,
  unauthorized: BatonUnauthorizedError,
  forbidden: BatonForbiddenError,
  not_found: BatonNotFoundError,
  conflict: BatonConflictError,
  payload_too_large: BatonPayloadTooLargeError,
  queue_full: BatonQueueFullError,
  rate_limited: BatonRateLimitedError,
};

/** The typed error for an API answer with an error status. */
export function apiErrorOf(init: { status: number; body: ApiErrorBody; method: string; path: string }) {
  const ErrorClass = ERROR_CLASS_BY_KIND[kindOf(init.status, init.body.error)] ?? BatonApiError;
  return new ErrorClass(init);
}
