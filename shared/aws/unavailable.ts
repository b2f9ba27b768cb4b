/**
 * Turns the SDK's "the service did not answer or is overloaded" errors (after its own retries)
 * into UnavailableError, so the layers above tell a platform failure (503) from a bug (500)
 * without knowing the SDK. Everything else (a failed condition, a validation error) passes as is.
 */
import type { InitializeHandlerOptions, InitializeMiddleware } from "@smithy/types";
import { UnavailableError } from "../core/errors.ts";
import type { InstrumentableClient } from "./instrument.ts";

const TRANSIENT_NAMES = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);
const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EAI_AGAIN"]);

export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (TRANSIENT_NAMES.has(error.name)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (typeof status === "number" && status >= 500) return true;
  // Node's fetch/http wrap the socket error; an aggregate holds one per address tried.
  const cause = (error as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== error && isUnavailable(cause)) return true;
  const errors = (error as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.some(isUnavailable);
}

const OPTIONS: InitializeHandlerOptions & { name: string; priority: "high" } = {
  step: "initialize",
  priority: "high",
  name: "batonUnavailable",
};

/** Adds the translation to a client, outside its retries. */
export function translateUnavailable(client: InstrumentableClient, dependency: string): void {
  const middleware: InitializeMiddleware<object, object> = (next) => async (args) => {
    try {
      return await next(args);
    } catch (error) {
      if (error instanceof UnavailableError || !isUnavailable(error)) throw error;
      throw new UnavailableError(dependency, { cause: error });
    }
  };
  client.middlewareStack.add(middleware, OPTIONS);
}
