/** HTTP plumbing for the api Lambda: API Gateway v2 events in, `{error, message}` JSON out. */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { z } from "zod";
import {
  BatonError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  QueueFullError,
  RateLimitedError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from "../../shared/core/errors.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import type { Log } from "../../shared/core/ports.ts";

export type ApiEvent = APIGatewayProxyEventV2;
export type ApiResult = APIGatewayProxyStructuredResultV2;

export function json(statusCode: number, body: unknown): ApiResult {
  return {
    statusCode,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    body: JSON.stringify(body),
  };
}

/** A redirect to a short-lived download link (files never pass through the API). */
export function redirect(location: string): ApiResult {
  return { statusCode: 302, headers: { location, "cache-control": "no-store" } };
}

export function noContent(): ApiResult {
  return { statusCode: 204, headers: { "cache-control": "no-store" } };
}

/** A body whose every field is optional: absent or blank reads as `{}`, anything else as parseBody does. */
export function parseOptionalBody<T>(event: ApiEvent, schema: z.ZodType<T>): T {
  if ((event.body ?? "").trim() === "") return validate({}, schema, "request body");
  return parseBody(event, schema);
}

/** Reads and validates a JSON body; every failure is a 400 or 413 that names the problem. */
export function parseBody<T>(event: ApiEvent, schema: z.ZodType<T>): T {
  const raw =
    event.body === undefined
      ? ""
      : event.isBase64Encoded
        ? Buffer.from(event.body, "base64").toString("utf8")
        : event.body;
  if (Buffer.byteLength(raw, "utf8") > LIMITS.requestBodyBytes) {
    throw new PayloadTooLargeError(`request body exceeds ${LIMITS.requestBodyBytes} bytes`);
  }
  if (raw.trim() === "") throw new ValidationError("request body is empty; send a JSON object");
  if (nestingDepth(raw) > LIMITS.requestBodyDepth) {
    throw new ValidationError(`request body nests deeper than ${LIMITS.requestBodyDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new InvalidJsonError(`request body is not valid JSON: ${(error as Error).message}`);
  }
  rejectProtoKeys(value);
  return validate(value, schema, "request body");
}

/**
 * How deep the brackets of a JSON text nest, outside strings: read before parsing, so nothing
 * that walks the parsed value (schemas, copies) ever recurses through a hostile depth.
 */
function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c)
        i += 1; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
    } else if (char === 0x22) inString = true;
    else if (char === 0x7b || char === 0x5b) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (char === 0x7d || char === 0x5d) depth -= 1;
  }
  return deepest;
}

/**
 * JSON.parse keeps a "__proto__" key as an own property, but copying the object later (schema
 * parsing, spreading) turns it into a prototype change and the key silently disappears. Refuse
 * it outright. Iterative, so a deeply nested body cannot overflow the stack.
 */
function rejectProtoKeys(root: unknown): void {
  const pending: unknown[] = [root];
  while (pending.length > 0) {
    const value = pending.pop();
    if (value === null || typeof value !== "object") continue;
    if (!Array.isArray(value) && Object.hasOwn(value, "__proto__")) {
      throw new ValidationError('request body may not contain the key "__proto__"');
    }
    pending.push(...Object.values(value));
  }
}

export function parseQuery<T>(event: ApiEvent, schema: z.ZodType<T>): T {
  return validate(event.queryStringParameters ?? {}, schema, "query string");
}

export function pathParam<T>(event: ApiEvent, name: string, schema: z.ZodType<T>): T {
  return validate(event.pathParameters?.[name] ?? "", schema, `path parameter "${name}"`);
}

function validate<T>(value: unknown, schema: z.ZodType<T>, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const details = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  const first = details[0];
  const where = first === undefined || first.path === "" ? "" : ` at "${first.path}"`;
  throw new ValidationError(`${what} is invalid${where}: ${first?.message ?? "unknown problem"}`, {
    details,
  });
}

export class InvalidJsonError extends ValidationError {
  override readonly code: string = "invalid_json";
}

const STATUS_BY_ERROR: ReadonlyArray<[new (...args: never[]) => BatonError, number]> = [
  [PayloadTooLargeError, 413],
  [QueueFullError, 429],
  [RateLimitedError, 429],
  [ValidationError, 400],
  [UnauthorizedError, 401],
  [ForbiddenError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
];

/** What a 503 tells the caller to wait before trying again. */
const UNAVAILABLE_RETRY_SECONDS = 5;

/** A 503: the platform's failure, not the caller's, with when to try again. */
export function unavailable<Body extends { error: "unavailable"; message: string }>(body: Body): ApiResult {
  const result = json(503, body);
  result.headers = { ...result.headers, "retry-after": String(UNAVAILABLE_RETRY_SECONDS) };
  return result;
}

/** The one place errors become HTTP responses. Unknown errors are logged and never leak details. */
export function errorResponse(error: unknown, log: Log, requestId: string | undefined): ApiResult {
  if (error instanceof BatonError) {
    const status = STATUS_BY_ERROR.find(([type]) => error instanceof type)?.[1] ?? 400;
    const result = json(status, {
      error: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    });
    if (status === 401) result.headers = { ...result.headers, "www-authenticate": "Bearer" };
    if (error instanceof RateLimitedError) {
      result.headers = { ...result.headers, "retry-after": String(error.retryAfterSeconds) };
    }
    return result;
  }
  if (error instanceof UnavailableError) {
    // The platform's failure, not the caller's: say so, and when to try again.
    log.warn("a dependency is unavailable", { error, requestId });
    return unavailable({ error: "unavailable", message: error.message });
  }
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  if (statusCode === 404) {
    return json(404, {
      error: "route_not_found",
      message: "no such route in the v1 API; GET /openapi.json lists the routes",
    });
  }
  log.error("request failed", { error, requestId });
  return json(500, {
    error: "internal_error",
    message: `internal error (request ${requestId ?? "unknown"})`,
  });
}
