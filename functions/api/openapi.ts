/**
 * The OpenAPI 3.1 document of the v1 API, generated from the route table (routes.ts) and the
 * zod schemas the handlers parse with (schemas.ts) and answer with (responses.ts), so it cannot
 * drift from what the API does. Served at GET /openapi.json, built once per route table.
 */
import type {
  ComponentsObject,
  HeaderObject,
  OpenAPIObject,
  OperationObject,
  ParameterObject,
  PathsObject,
  ResponseObject,
  ResponsesObject,
  SchemaObject,
} from "openapi3-ts/oas31";
import { z } from "zod";
import type { ApiResult } from "./http.ts";
import * as responseSchemas from "./responses.ts";
import * as requestSchemas from "./schemas.ts";

/**
 * Who may call a route. Roles nest: an admin key can do what a runner key can. `any` is any valid
 * key (operator included); `none` needs no key (the file token in the path is the credential).
 */
export type RouteAuth =
  | "none"
  | "any"
  | "operator"
  | "admin"
  | "runner"
  | "runner-or-callback-token"
  | "runner-or-read-token";
export type SuccessStatus = 200 | 201 | 202 | 204 | 302;
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429;
/** Statuses any route may answer with (the shared error body), unless it documents its own. */
export type PlatformStatus = 500 | 503;
export const PLATFORM_STATUSES: readonly PlatformStatus[] = [500, 503];

/** What a route entry says about itself; the router ignores it, the document is made of it. */
export interface RouteDoc {
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  auth: RouteAuth;
  /** Path parameters, by the name in `{braces}`: the schemas the handler parses them with. */
  params?: Record<string, z.ZodType>;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Named request body examples; each must pass `body` (checked by the tests). */
  examples?: Record<string, { summary: string; value: unknown }>;
  /**
   * Success answers by status; null for none (204) or a redirect (302, with a Location header);
   * a TextAnswer for a body that is not JSON (the dashboard's page and files). A 503 here is a
   * body of the route's own in place of the shared error body (GET /health's names dependencies).
   */
  responses: Partial<Record<SuccessStatus | 503, z.ZodType | null | TextAnswer>>;
  /**
   * Error statuses the use case answers with. 400 (and 413 with a body) follow from the
   * inputs, 401 and 403 from `auth`, so only the others are listed.
   */
  errors?: ErrorStatus[];
}

/** A success answer whose body is text of one of these media types, not JSON. */
export interface TextAnswer {
  text: readonly string[];
}

export function isTextAnswer(answer: z.ZodType | null | TextAnswer | undefined): answer is TextAnswer {
  return typeof answer === "object" && answer !== null && "text" in answer && Array.isArray(answer.text);
}

export interface DocumentedRoute {
  method: string;
  path: string;
  doc: RouteDoc;
}

const JSON_SCHEMA_TARGET = "draft-2020-12";
const RETRY_AFTER_HEADER = {
  description: "Seconds to wait before trying again",
  schema: { type: "integer", minimum: 1 },
} as const;
const COMPONENT_PREFIX = "#/components/schemas/";

/** The error statuses a route can answer with: its own, and those its inputs and auth imply. */
export function errorStatusesOf(doc: RouteDoc): ErrorStatus[] {
  const statuses = new Set<ErrorStatus>(doc.errors ?? []);
  if (doc.body !== undefined || doc.query !== undefined || doc.params !== undefined) statuses.add(400);
  if (doc.body !== undefined) statuses.add(413);
  if (doc.auth !== "none") statuses.add(401);
  if (doc.auth !== "none" && doc.auth !== "any") statuses.add(403);
  return [...statuses].sort((a, b) => a - b);
}

const ERROR_RESPONSES: Record<
  ErrorStatus | PlatformStatus,
  {
    name: string;
    description: string;
    examples: Record<string, responseSchemas.ErrorBody>;
    headers?: Record<string, HeaderObject>;
  }
> = {
  400: {
    name: "BadRequest",
    description: "Bad input: the body, query or a path parameter does not fit its schema.",
    examples: {
      validation_failed: {
        error: "validation_failed",
        message:
          'request body is invalid at "definition": Invalid input: expected string, received undefined',
        details: [{ path: "definition", message: "Invalid input: expected string, received undefined" }],
      },
      invalid_json: {
        error: "invalid_json",
        message: "request body is not valid JSON: Unexpected end of JSON input",
      },
      unknown_definition: {
        error: "unknown_definition",
        message: 'definition "nightly" does not exist; register it with PUT /v1/definitions/nightly',
      },
    },
  },
  401: {
    name: "Unauthorized",
    description: "No API key, an unknown or revoked one (or a bad token).",
    examples: {
      unauthorized: { error: "unauthorized", message: "send an API key as 'Authorization: Bearer <key>'" },
    },
  },
  403: {
    name: "Forbidden",
    description: "The key's role may not call this route.",
    examples: { forbidden: { error: "forbidden", message: "this route needs an admin key" } },
  },
  404: {
    name: "NotFound",
    description: "No such thing in the caller's tenant (other tenants' things are not found either).",
    examples: { not_found: { error: "not_found", message: 'task "01JD3Q0Z9X6Y7K8M9N0P1Q2R3S" not found' } },
  },
  409: {
    name: "Conflict",
    description: "The request conflicts with the current state (already exists, already finished).",
    examples: { conflict: { error: "conflict", message: "the run already ended succeeded" } },
  },
  413: {
    name: "PayloadTooLarge",
    description: "The request body (or its params) is too large.",
    examples: {
      payload_too_large: { error: "payload_too_large", message: "request body exceeds 307200 bytes" },
    },
  },
  429: {
    name: "TooManyRequests",
    description:
      "Nothing was written; try later. `queue_full`: the definition's waiting line is full (maxQueueLength). " +
      "`rate_limited`: the tenant starts faster than its startsPerSecond allows; Retry-After says when to try again.",
    examples: {
      queue_full: {
        error: "queue_full",
        message: 'definition "report" has 100 runs waiting (maxQueueLength 100)',
        details: { maxQueueLength: 100, maxConcurrency: 2 },
      },
      rate_limited: {
        error: "rate_limited",
        message: 'tenant "acme" may start 1 runs per second (burst 2); try again in 1 s',
        details: { retryAfterSeconds: 1, startsPerSecond: 1, burst: 2 },
      },
    },
    headers: {
      "Retry-After": {
        description: "With rate_limited: whole seconds until a start would be admitted.",
        schema: { type: "integer", minimum: 1 },
      },
    },
  },
  500: {
    name: "InternalError",
    description: "An unexpected failure; the message names the request id to look up in the logs.",
    examples: { internal_error: { error: "internal_error", message: "internal error (request 7f1c…)" } },
  },
  503: {
    name: "Unavailable",
    description:
      "The database, queue or another AWS service did not answer or was throttled (after retries). " +
      "Not the caller's fault: try again after the Retry-After header's seconds; a start retried " +
      "with the same idempotencyKey never makes a second run.",
    examples: {
      unavailable: {
        error: "unavailable",
        message: "the database (DynamoDB) is unavailable; try again shortly",
      },
    },
  },
};

/** Exported zod schemas of a module, by export name: these become the named components. */
function exportedSchemas(module: Record<string, unknown>): Map<z.ZodType, string> {
  const named = new Map<z.ZodType, string>();
  for (const [name, value] of Object.entries(module)) {
    if (value instanceof z.ZodType) named.set(value, name);
  }
  return named;
}

/** A $ref to a named component, or the JSON Schema of an unnamed (small, leaf) schema inline. */
function toSchema(schema: z.ZodType, io: "input" | "output", named: Map<z.ZodType, string>): SchemaObject {
  const id = named.get(schema);
  if (id !== undefined) return { $ref: `${COMPONENT_PREFIX}${id}` };
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { target: JSON_SCHEMA_TARGET, io });
  return json as SchemaObject;
}

/** Every exported schema of `named` as a component, converted for reading (`input`) or writing. */
function components(named: Map<z.ZodType, string>, io: "input" | "output"): Record<string, SchemaObject> {
  const registry = z.registry<{ id: string }>();
  for (const [schema, id] of named) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    target: JSON_SCHEMA_TARGET,
    io,
    uri: (id) => `${COMPONENT_PREFIX}${id}`,
  });
  const out: Record<string, SchemaObject> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    // A fragment-only $id is not a valid 2020-12 $id, and the dialect is the document's.
    const { $id: _id, $schema: _dialect, ...rest } = schema;
    out[id] = rest as SchemaObject;
  }
  return out;
}

function describeAuth(auth: RouteAuth): string {
  switch (auth) {
    case "none":
      return "No API key needed.";
    case "any":
      return "Any valid API key (tenant or operator).";
    case "operator":
      return "The operator key (BATON_ROOT_KEY).";
    case "admin":
      return "An admin key of the tenant.";
    case "runner":
      return "A runner or admin key of the tenant.";
    case "runner-or-callback-token":
      return "A runner or admin key of the tenant, or the run's callback token.";
    case "runner-or-read-token":
      return "A runner or admin key of the tenant, or a read token for this run (`POST /v1/tasks/{id}/read-token`).";
    default: {
      const unknown: never = auth;
      throw new Error(`unknown auth ${String(unknown)}`);
    }
  }
}

function operationOf(
  route: DocumentedRoute,
  requests: Map<z.ZodType, string>,
  answers: Map<z.ZodType, string>,
): OperationObject {
  const { doc } = route;
  const parameters: ParameterObject[] = [];
  for (const [name, schema] of Object.entries(doc.params ?? {})) {
    parameters.push({ name, in: "path", required: true, schema: toSchema(schema, "input", requests) });
  }
  if (doc.query !== undefined) {
    for (const [name, schema] of Object.entries(doc.query.shape)) {
      const property = schema as z.ZodType;
      parameters.push({
        name,
        in: "query",
        required: !property.safeParse(undefined).success,
        schema: toSchema(property, "input", new Map()),
      });
    }
  }
  const responses: ResponsesObject = {};
  for (const [status, schema] of Object.entries(doc.responses) as [string, z.ZodType | null | TextAnswer][]) {
    const response: ResponseObject = { description: status === "302" ? "Redirect" : "Success" };
    if (status === "503") {
      response.description = ERROR_RESPONSES[503].description;
      response.headers = { "Retry-After": RETRY_AFTER_HEADER };
    }
    if (status === "302") {
      response.description = "A redirect to a short-lived download link.";
      response.headers = { Location: { schema: { type: "string", format: "uri" } } };
    } else if (status === "204") {
      response.description = "Done; no content.";
    } else if (isTextAnswer(schema)) {
      response.content = Object.fromEntries(
        schema.text.map((mediaType) => [mediaType, { schema: { type: "string" } }]),
      );
    } else if (schema !== null) {
      response.content = { "application/json": { schema: toSchema(schema, "output", answers) } };
    }
    responses[status] = response;
  }
  for (const status of [...errorStatusesOf(doc), ...PLATFORM_STATUSES]) {
    if (String(status) in responses) continue; // the route's own body for it
    responses[String(status)] = { $ref: `#/components/responses/${ERROR_RESPONSES[status].name}` };
  }
  const operation: OperationObject = {
    operationId: doc.operationId,
    summary: doc.summary,
    description: [doc.description, `Auth: ${describeAuth(doc.auth)}`].filter(Boolean).join("\n\n"),
    tags: [doc.tag],
    "x-baton-auth": doc.auth,
    security:
      doc.auth === "none"
        ? []
        : doc.auth === "runner-or-callback-token"
          ? [{ apiKey: [] }, { callbackToken: [] }]
          : doc.auth === "runner-or-read-token"
            ? [{ apiKey: [] }, { readToken: [] }]
            : [{ apiKey: [] }],
    ...(parameters.length === 0 ? {} : { parameters }),
    responses,
  };
  if (doc.body !== undefined) {
    operation.requestBody = {
      required: true,
      content: {
        "application/json": {
          schema: toSchema(doc.body, "input", requests),
          ...(doc.examples === undefined ? {} : { examples: doc.examples }),
        },
      },
    };
  }
  return operation;
}

/** The OpenAPI 3.1 document of these routes. */
export function buildOpenApiDocument(routes: readonly DocumentedRoute[]): OpenAPIObject {
  const requests = exportedSchemas(requestSchemas);
  const answers = exportedSchemas(responseSchemas);
  const schemas = { ...components(requests, "input") };
  for (const [id, schema] of Object.entries(components(answers, "output"))) {
    if (id in schemas) throw new Error(`schema name ${id} is used by a request and a response schema`);
    schemas[id] = schema;
  }
  const paths: PathsObject = {};
  for (const route of routes) {
    const item = paths[route.path] ?? {};
    item[route.method.toLowerCase() as "get"] = operationOf(route, requests, answers);
    paths[route.path] = item;
  }
  const errorResponses: ComponentsObject["responses"] = {};
  for (const [status, { name, description, examples, headers }] of Object.entries(ERROR_RESPONSES)) {
    errorResponses[name] = {
      description,
      ...(status === "503" ? { headers: { "Retry-After": RETRY_AFTER_HEADER } } : {}),
      ...(headers === undefined ? {} : { headers }),
      content: {
        "application/json": {
          schema: { $ref: `${COMPONENT_PREFIX}ErrorBody` },
          examples: Object.fromEntries(Object.entries(examples).map(([key, value]) => [key, { value }])),
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Baton API",
      version: "v1",
      description:
        "Background tasks on AWS serverless: start runs of registered task definitions, follow them " +
        "and read their results. Errors are JSON `{error, message, details?}`; branch on `error`.",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas,
      responses: errorResponses,
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description:
            "An API key: `Authorization: Bearer <key>` (tenant admin or runner, or the operator key).",
        },
        callbackToken: {
          type: "http",
          scheme: "bearer",
          description: "A run's callback token, handed to the outside system by a callback-mode handler.",
        },
        readToken: {
          type: "http",
          scheme: "bearer",
          description:
            "A short-lived token that reads one run (`POST /v1/tasks/{id}/read-token`), for a frontend.",
        },
      },
    },
  };
}

/** The document as an HTTP answer, serialized once per route table (it never changes while running). */
const served = new WeakMap<readonly DocumentedRoute[], string>();
export function openApiResult(routes: readonly DocumentedRoute[]): ApiResult {
  let body = served.get(routes);
  if (body === undefined) {
    body = JSON.stringify(buildOpenApiDocument(routes));
    served.set(routes, body);
  }
  return {
    statusCode: 200,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=300" },
    body,
  };
}
