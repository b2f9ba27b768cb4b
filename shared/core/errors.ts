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
 * Thrown by a task handler to fail the run at once, without the retries left.
 *
 * @example
 * if (!customer) throw new NonRetriableError(`customer ${id} does not exist`);
 */
export class NonRetriableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NonRetriableError";
  }
}
