/** Test helpers for the OpenAPI document: JSON Schema validation against it, and route lookup. */
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { OpenAPIObject } from "openapi3-ts/oas31";
import type { ApiRoute } from "../../functions/api/routes.ts";

const DOCUMENT_ID = "https://baton.test/openapi.json";

/**
 * Validates values against schemas of the document, by JSON pointer (e.g. the schema of an
 * operation's answer), with the document's own `#/components/...` $refs resolved. This checks
 * the generated JSON Schema itself, not just the zod schema it came from.
 */
export function documentSchemas(document: OpenAPIObject): (pointer: string, value: unknown) => string[] {
  // Not strict: the document carries OpenAPI keywords (`openapi`, `paths`, ...) around its schemas.
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, DOCUMENT_ID);
  return (pointer, value) => {
    const validate = ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? ""}`);
  };
}

/** A JSON pointer segment: `/` and `~` escaped. */
export function pointerSegment(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** The route whose path template matches a concrete path (`/v1/tasks/abc` → `/v1/tasks/{id}`). */
export function routeFor(routes: readonly ApiRoute[], method: string, path: string): ApiRoute | undefined {
  const bare = path.split("?")[0] ?? path;
  return routes.find(
    (route) =>
      route.method === method && new RegExp(`^${route.path.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(bare),
  );
}
