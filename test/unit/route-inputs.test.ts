/**
 * Each handler parses its input with exactly the schemas its route entry documents, and checks
 * exactly the auth it documents: the OpenAPI document describes what the code does.
 *
 * The parse helpers are wrapped to record which schema each call gets, and answer a placeholder
 * so a handler reaches all its parse calls without a request that passes them; the first
 * service call after that fails (the services are a stub), which ends the handler.
 */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ZodType } from "zod";
import type { ApiRoute } from "../../functions/api/routes.ts";
import type { Services } from "../../shared/app/services.ts";
import { ForbiddenError, UnauthorizedError } from "../../shared/core/errors.ts";
import { hashKey } from "../../shared/core/tenant.ts";

const parsed = vi.hoisted(() => ({
  body: [] as unknown[],
  query: [] as unknown[],
  params: new Map<string, unknown>(),
}));

vi.mock("../../functions/api/http.ts", async (importOriginal) => {
  const real = await importOriginal<typeof import("../../functions/api/http.ts")>();
  return {
    ...real,
    parseBody: (_event: unknown, schema: ZodType) => {
      parsed.body.push(schema);
      return {};
    },
    parseOptionalBody: (_event: unknown, schema: ZodType) => {
      parsed.body.push(schema);
      return {};
    },
    parseQuery: (_event: unknown, schema: ZodType) => {
      parsed.query.push(schema);
      return {};
    },
    pathParam: (_event: unknown, name: string, schema: ZodType) => {
      parsed.params.set(name, schema);
      return "placeholder";
    },
  };
});

const { apiRoutes } = await import("../../functions/api/routes.ts");

const ROOT_KEY = "root-key-of-this-test-0123456789";
const KEYS = { admin: "admin-key-of-this-test-012345", runner: "runner-key-of-this-test-01234" };

/** Just enough services to authenticate; every other service call throws, ending the handler. */
const services = {
  rootKeyHash: hashKey(ROOT_KEY),
  tenants: {
    getKey: async (keyHash: string) => {
      const role = (["admin", "runner"] as const).find((r) => hashKey(KEYS[r]) === keyHash);
      return role === undefined
        ? undefined
        : { keyHash, keyId: `${role}0000000`, tenant: "acme", role, createdAt: "" };
    },
  },
} as unknown as Services;

const routes: ApiRoute[] = apiRoutes(services);

function event(route: ApiRoute, key: string | undefined): APIGatewayProxyEventV2 {
  return {
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
    body: "{}",
    isBase64Encoded: false,
    requestContext: { http: { method: route.method, path: route.path } },
  } as unknown as APIGatewayProxyEventV2;
}

/** Runs a handler; returns the error it threw, if any (service stubs make most of them throw). */
async function call(route: ApiRoute, key: string | undefined): Promise<unknown> {
  try {
    await route.handler(event(route, key));
    return undefined;
  } catch (error) {
    return error;
  }
}

const keyFor = (route: ApiRoute) => (route.doc.auth === "operator" ? ROOT_KEY : KEYS.admin);

beforeEach(() => {
  parsed.body.length = 0;
  parsed.query.length = 0;
  parsed.params.clear();
});

describe("route entries and their handlers", () => {
  it.each(routes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "%s parses with the documented schemas",
    async (_name, route) => {
      await call(route, keyFor(route));
      expect(parsed.body).toEqual(route.doc.body === undefined ? [] : [route.doc.body]);
      expect(parsed.body[0]).toBe(route.doc.body);
      expect(parsed.query[0]).toBe(route.doc.query);
      expect(parsed.query.length).toBe(route.doc.query === undefined ? 0 : 1);
      expect([...parsed.params.keys()].sort()).toEqual(Object.keys(route.doc.params ?? {}).sort());
      for (const [name, schema] of parsed.params) expect(schema, name).toBe(route.doc.params?.[name]);
    },
  );

  it.each(routes.map((route) => [`${route.method} ${route.path}`, route] as const))(
    "%s enforces the documented auth",
    async (_name, route) => {
      const { auth } = route.doc;
      const anonymous = await call(route, undefined);
      if (auth === "none") {
        // It may still refuse a bad file token (401), but never for want of an API key.
        expect(String((anonymous as Error | undefined)?.message)).not.toMatch(/API key/);
        return;
      }
      expect(anonymous).toBeInstanceOf(UnauthorizedError);
      const byRunner = await call(route, KEYS.runner);
      const byOperator = await call(route, ROOT_KEY);
      const byAdmin = await call(route, KEYS.admin);
      const forbidden = (error: unknown) => error instanceof ForbiddenError;
      expect(forbidden(byRunner), "runner").toBe(auth === "admin" || auth === "operator");
      expect(forbidden(byAdmin), "admin").toBe(auth === "operator");
      expect(forbidden(byOperator), "operator").toBe(auth !== "operator" && auth !== "any");
    },
  );
});
