/**
 * Baton's typed client: `import { BatonClient } from "baton/client"`.
 * Free of server code at run time; types come from the API's own schemas and presenters.
 */
export { BatonClient, type BatonClientOptions } from "./baton-client.ts";
export {
  type ApiErrorBody,
  ApiErrorKind,
  BatonApiError,
  BatonClientError,
  BatonConflictError,
  BatonConnectionError,
  BatonForbiddenError,
  BatonNotFoundError,
  BatonPayloadTooLargeError,
  BatonQueueFullError,
  BatonRateLimitedError,
  BatonUnauthorizedError,
  BatonValidationError,
} from "./errors.ts";
export * from "./types.ts";
export {
  BatonWatchTimeoutError,
  type WaitOptions,
  type WatchOptions,
  waitForEnd,
  watchTask,
} from "./watch.ts";
