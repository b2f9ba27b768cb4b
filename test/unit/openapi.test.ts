/** The OpenAPI document: valid 3.1, made of exactly the routes the router serves, examples that fit. */
import { Validator } from "@seriousme/openapi-schema-validator";
import type { OperationObject, ReferenceObject, ResponseObject } from "openapi3-ts/oas31";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument, errorStatusesOf, openApiResult } from "../../functions/api/openapi.ts";
import { ErrorBody } from "../../functions/api/responses.ts";
import { type ApiRoute, apiRoutes } from "../../functions/api/routes.ts";
import type { Services } from "../../shared/app/services.ts";
import { documentSchemas, pointerSegment } from "../support/openapi.ts";

// Building the table only makes closures over the services; nothing here calls a handler.
const routes: ApiRoute[] = apiRoutes({} as Services);
const document = buildOpenApiDocument(routes);
const validateAt = documentSchemas(document);

function operation(route: ApiRoute): OperationObject {
  const found = document.paths?.[route.path]?.[route.method.toLowerCase() as "get"];
  if (found === undefined) throw new Error(`${route.method} ${route.path} is not in the document`);
  return found;
}

describe("the OpenAPI document", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document) as never);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    // The validator is not a rubber stamp: an answer without its (required) description is refused.
    const broken = structuredClone(document);
    const started = broken.paths?.["/v1/tasks"]?.post?.responses?.["202"] as { description?: string };
    delete started.description;
    expect((await new Validator().validate(broken as never)).valid).toBe(false);
  });

  it("has every route of the router with its method, and nothing else", () => {
    const served = routes.map((route) => `${route.method} ${route.path}`).sort();
    const documented = Object.entries(document.paths ?? {})
      .flatMap(([path, item]) =>
        ["get", "put", "post", "delete", "patch", "head", "options"]
          .filter((method) => method in item)
          .map((method) => `${method.toUpperCase()} ${path}`),
      )
      .sort();
    expect(documented).toEqual(served);
    expect(new Set(served).size).toBe(served.length);
    for (const route of routes) expect(operation(route).operationId).toBe(route.doc.operationId);
    const ids = routes.map((route) => route.doc.operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("names every path parameter of every path, with a schema", () => {
    for (const route of routes) {
      const inPath = [...route.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]).sort();
      expect(Object.keys(route.doc.params ?? {}).sort(), route.path).toEqual(inPath);
      const parameters = (operation(route).parameters ?? []) as { name: string; in: string }[];
      expect(
        parameters
          .filter((p) => p.in === "path")
          .map((p) => p.name)
          .sort(),
      ).toEqual(inPath);
    }
  });

  it("documents a success answer and every error status of each route", () => {
    for (const route of routes) {
      const responses = operation(route).responses as Record<string, ResponseObject | ReferenceObject>;
      const successes = Object.keys(route.doc.responses);
      expect(successes.length, route.path).toBeGreaterThan(0);
      for (const status of [...successes, ...errorStatusesOf(route.doc).map(String), "500"]) {
        expect(responses[status], `${route.method} ${route.path} ${status}`).toBeDefined();
      }
      if (route.doc.auth !== "none") expect(responses["401"]).toBeDefined();
      if (route.doc.body !== undefined) expect(responses["400"]).toBeDefined();
    }
  });

  it("documents a 503 with Retry-After on every route; /health's own body names the dependencies", () => {
    for (const route of routes) {
      const responses = operation(route).responses as Record<string, ResponseObject | ReferenceObject>;
      const what = `${route.method} ${route.path}`;
      if (route.path === "/health") {
        const own = responses["503"] as ResponseObject;
        expect(own.headers?.["Retry-After"], what).toBeDefined();
        const pointer = "/paths/~1health/get/responses/503/content/application~1json/schema";
        const body = {
          error: "unavailable",
          message: "dynamodb did not answer; try again shortly",
          dependencies: { dynamodb: "unreachable", sqs: "ok", s3: "ok" },
        };
        expect(validateAt(pointer, body), what).toEqual([]);
        expect(validateAt(pointer, { ...body, endpoint: "http://db.internal" }), what).not.toEqual([]);
      } else {
        expect(responses["503"], what).toEqual({ $ref: "#/components/responses/Unavailable" });
      }
    }
    const shared = document.components?.responses?.Unavailable as ResponseObject;
    expect(shared.headers?.["Retry-After"]).toBeDefined();
  });

  it("marks the routes that need no key, and only them, as open", () => {
    const open = routes.filter((route) => operation(route).security?.length === 0).map((r) => r.path);
    expect(open.sort()).toEqual([
      "/",
      "/dashboard/{version}/{file}",
      "/health",
      "/openapi.json",
      "/v1/files/{token}",
    ]);
    expect(document.components?.securitySchemes?.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("has request body examples for starts, definitions and callbacks, each valid for its schema", () => {
    const withExamples = routes
      .filter((route) => route.doc.examples !== undefined)
      .map((r) => r.doc.operationId);
    expect(withExamples).toEqual(expect.arrayContaining(["startTask", "putDefinition", "callback"]));
    for (const route of routes) {
      for (const [name, example] of Object.entries(route.doc.examples ?? {})) {
        const what = `${route.doc.operationId} example ${name}`;
        expect(route.doc.body, what).toBeDefined();
        const parsed = route.doc.body?.safeParse(example.value);
        expect(parsed?.error?.issues, what).toBeUndefined();
        const pointer = `/paths/${pointerSegment(route.path)}/${route.method.toLowerCase()}/requestBody/content/application~1json/schema`;
        expect(validateAt(pointer, example.value), what).toEqual([]);
      }
    }
  });

  it("rejects what the request schemas reject (the JSON Schema is as strict as zod)", () => {
    const start = "/paths/~1v1~1tasks/post/requestBody/content/application~1json/schema";
    expect(validateAt(start, { definition: "echo" })).toEqual([]);
    expect(validateAt(start, { definition: "no spaces allowed" })).not.toEqual([]);
    expect(validateAt(start, { definition: "echo", unknown: 1 })).not.toEqual([]);
    expect(validateAt(start, { params: {} })).not.toEqual([]);
  });

  it("has error answers with examples that fit the error schema", () => {
    const responses = document.components?.responses ?? {};
    expect(Object.keys(responses).length).toBeGreaterThanOrEqual(8);
    for (const [name, response] of Object.entries(responses)) {
      const examples = (response as ResponseObject).content?.["application/json"]?.examples ?? {};
      expect(Object.keys(examples).length, name).toBeGreaterThan(0);
      for (const [key, example] of Object.entries(examples)) {
        const value = (example as { value: unknown }).value;
        expect(ErrorBody.safeParse(value).error, `${name} ${key}`).toBeUndefined();
        expect(validateAt("/components/schemas/ErrorBody", value), `${name} ${key}`).toEqual([]);
      }
    }
  });

  it("is served as JSON, built once", () => {
    const first = openApiResult(routes);
    expect(first.statusCode).toBe(200);
    expect(JSON.parse(first.body ?? "")).toEqual(JSON.parse(JSON.stringify(document)));
    expect(openApiResult(routes).body).toBe(first.body);
  });
});
