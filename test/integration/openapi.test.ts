/**
 * GET /openapi.json on a live stack, every documented method and path served, and real answers
 * (successes and errors) checked against the documented schemas: both the zod schema of the route
 * entry and the JSON Schema in the served document.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import type { OpenAPIObject } from "openapi3-ts/oas31";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildOpenApiDocument,
  errorStatusesOf,
  isTextAnswer,
  type SuccessStatus,
} from "../../functions/api/openapi.ts";
import { ErrorBody } from "../../functions/api/responses.ts";
import { type ApiRoute, apiRoutes } from "../../functions/api/routes.ts";
import { mintFileToken } from "../../shared/core/file-token.ts";
import { documentSchemas, pointerSegment, routeFor } from "../support/openapi.ts";
import { startTestStack, type TestResponse, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

const FILE_TOKEN_SECRET = "a-test-secret-that-is-long-enough-0123456789";

let stack: TestStack;
let routes: ApiRoute[];
let served: OpenAPIObject;
let validateAt: (pointer: string, value: unknown) => string[];
/** `METHOD /template status` of every answer checked, to prove the scenario covers the routes. */
const answered = new Set<string>();

beforeAll(async () => {
  stack = await startTestStack({ fileTokenSecret: FILE_TOKEN_SECRET });
  routes = apiRoutes(stack.services);
  const response = await fetch(`${stack.url}/openapi.json`);
  served = (await response.json()) as OpenAPIObject;
  validateAt = documentSchemas(served);
});
afterAll(async () => {
  await stack?.stop();
});

/**
 * One request, its answer checked against the route's documentation: the status is documented,
 * and the body fits the documented schema (zod, strict) and the served JSON Schema.
 */
/** The `error` code of an answer's body, if it is a JSON error body (pages and redirects are not). */
function errorCodeOf(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && "error" in parsed
      ? String(parsed.error)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A request through the test stack, its answer checked against what the document says of it. */
async function call(
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown; raw?: string } = {},
): Promise<TestResponse> {
  const answer = await stack.request(method, path, { ...options, redirect: "manual" });
  const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? "");
  const route = routeFor(routes, method, path);
  if (route === undefined) throw new Error(`no route documents ${method} ${path}`);
  const what = `${method} ${path} → ${answer.status} ${text.slice(0, 300)}`;
  const operationPointer = `/paths/${pointerSegment(route.path)}/${method.toLowerCase()}/responses/${answer.status}`;
  const documented = route.doc.responses[answer.status as SuccessStatus];
  if (documented !== undefined) {
    if (isTextAnswer(documented)) {
      const mediaType = answer.headers.get("content-type")?.split(";")[0];
      expect(documented.text, what).toContain(mediaType);
      expect(answer.body, what).toEqual(expect.any(String));
    } else if (documented === null) {
      expect(answer.body, what).toBeNull();
      if (answer.status === 302) expect(answer.headers.get("location"), what).toMatch(/^https?:\/\//);
    } else {
      expect(documented.safeParse(answer.body).error?.issues, what).toBeUndefined();
      expect(validateAt(`${operationPointer}/content/application~1json/schema`, answer.body), what).toEqual(
        [],
      );
    }
  } else {
    expect(errorStatusesOf(route.doc), what).toContain(answer.status);
    expect(ErrorBody.safeParse(answer.body).error?.issues, what).toBeUndefined();
    expect(validateAt("/components/schemas/ErrorBody", answer.body), what).toEqual([]);
    expect(
      served.paths?.[route.path]?.[method.toLowerCase() as "get"]?.responses?.[answer.status],
      what,
    ).toBeDefined();
  }
  answered.add(`${method} ${route.path} ${answer.status}`);
  return answer;
}

describe("GET /openapi.json", () => {
  it("serves the document of the router's own routes, without a key, cacheable", async () => {
    const response = await fetch(`${stack.url}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(response.headers.get("cache-control")).toMatch(/max-age=\d+/);
    const document = await response.json();
    expect(document).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument(routes))));
    const validator = new Validator();
    expect((await validator.validate(document as never)).valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("documents only what is served: every method and path answers, none with route_not_found", async () => {
    const sample: Record<string, string> = {
      id: "01JD3Q0Z9X6Y7K8M9N0P1Q2R3S",
      name: "probe",
      token: "e30.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      sourceTenant: "probe",
      chain: "probe",
    };
    const probed: string[] = [];
    for (const [path, item] of Object.entries(served.paths ?? {})) {
      for (const method of ["get", "put", "post", "delete", "patch"].filter((m) => m in item)) {
        const concrete = path.replace(/\{([^}]+)\}/g, (_match, name: string) => sample[name] ?? "x");
        const auth = item[method as "get"]?.["x-baton-auth"];
        const key = auth === "operator" ? stack.rootKey : stack.adminKey;
        const response = await fetch(`${stack.url}${concrete}`, {
          method: method.toUpperCase(),
          redirect: "manual",
          headers: { authorization: `Bearer ${key}` },
        });
        const error = errorCodeOf(await response.text());
        expect(error, `${method} ${concrete}`).not.toBe("route_not_found");
        // A 404 must be the use case's own, with its error code: a bare 404 would hide a lost route.
        if (response.status === 404) expect(error, `${method} ${concrete}`).toEqual(expect.any(String));
        expect(response.status, `${method} ${concrete}`).toBeLessThan(500);
        probed.push(`${method.toUpperCase()} ${path}`);
      }
      // And the other way round: a method the document does not give for a path is not served.
      for (const method of ["GET", "PUT", "POST", "DELETE", "PATCH"].filter(
        (m) => !(m.toLowerCase() in item),
      )) {
        const concrete = path.replace(/\{([^}]+)\}/g, (_match, name: string) => sample[name] ?? "x");
        // A path of fixed words that another route's template also fits (`/v1/tasks/bulk` is
        // `/v1/tasks/{id}` too) is that route's for this method: it answers as that route does.
        if (routes.some((route) => route.method === method && fitsTemplate(route.path, concrete))) continue;
        const response = await fetch(`${stack.url}${concrete}`, {
          method,
          headers: { authorization: `Bearer ${stack.adminKey}` },
        });
        expect(response.status, `${method} ${concrete}`).toBe(404);
        expect(await response.json(), `${method} ${concrete}`).toMatchObject({ error: "route_not_found" });
      }
    }
    expect(probed.sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
    // The probe can tell: a path that is not served answers route_not_found.
    const missing = await fetch(`${stack.url}/v1/nothing-here`, {
      headers: { authorization: `Bearer ${stack.adminKey}` },
    });
    expect(missing.status).toBe(404);
    expect(errorCodeOf(await missing.text())).toBe("route_not_found");
  });
});

describe("real answers match the documented schemas", () => {
  it("for tenants and keys", async () => {
    const root = { key: stack.rootKey };
    await call("POST", "/v1/tenants", { ...root, body: { id: "beta", name: "Beta" } });
    expect((await call("POST", "/v1/tenants", { ...root, body: { id: "beta" } })).status).toBe(409);
    expect((await call("POST", "/v1/tenants", { body: { id: "gamma" } })).status).toBe(403);
    expect((await call("POST", "/v1/tenants/nobody/keys", { ...root, body: { role: "admin" } })).status).toBe(
      404,
    );
    const betaKey = (await call("POST", "/v1/tenants/beta/keys", { ...root, body: { role: "admin" } })).body
      .key;
    const limits = { maxChainDepth: 4, maxChainTree: 100 };
    expect((await call("PUT", "/v1/tenants/beta/limits", { ...root, body: limits })).status).toBe(200);
    expect((await call("PUT", "/v1/tenants/nobody/limits", { ...root, body: {} })).status).toBe(404);
    expect((await call("GET", "/v1/tenants/beta/limits", root)).body).toMatchObject({ maxChainDepth: 4 });
    expect((await call("GET", "/v1/tenants/nobody/limits", root)).status).toBe(404);
    await call("GET", "/v1/tenant", root);
    await call("GET", "/v1/tenant", { key: betaKey });
    expect((await call("GET", "/v1/tenant", { key: null })).status).toBe(401);
    const issued = await call("POST", "/v1/keys", { key: betaKey, body: { role: "runner" } });
    expect(issued.status).toBe(201);
    expect((await call("GET", "/v1/keys", { key: betaKey })).body.items).toHaveLength(2);
    expect((await call("GET", "/v1/keys", { key: stack.runnerKey })).status).toBe(403);
    expect((await call("DELETE", `/v1/keys/${issued.body.keyId}`, { key: betaKey })).status).toBe(204);
    expect((await call("DELETE", `/v1/keys/${issued.body.keyId}`, { key: betaKey })).status).toBe(404);
    const listed = await call("GET", "/v1/tenants/beta/keys", root);
    expect(listed.body.items).toHaveLength(1);
    expect((await call("GET", "/v1/tenants/nobody/keys", root)).status).toBe(404);
    expect((await call("GET", "/v1/tenants/beta/keys", { key: betaKey })).status).toBe(403);
    const betaKeyId = listed.body.items[0].keyId;
    expect((await call("DELETE", `/v1/tenants/acme/keys/${betaKeyId}`, root)).status).toBe(404);
    const second = await call("POST", "/v1/tenants/beta/keys", { ...root, body: { role: "runner" } });
    expect((await call("DELETE", `/v1/tenants/beta/keys/${second.body.keyId}`, root)).status).toBe(204);
    expect((await call("POST", "/v1/keys", { key: betaKey, body: { role: "boss" } })).status).toBe(400);

    // A start over the tenant's start rate: 429 rate_limited, with the documented Retry-After.
    await call("PUT", "/v1/definitions/echo", { key: betaKey, body: { handler: "echo" } });
    const rate = { startsPerSecond: 0.001, burst: 1 };
    expect((await call("PUT", "/v1/tenants/beta/limits", { ...root, body: rate })).status).toBe(200);
    expect((await call("POST", "/v1/tasks", { key: betaKey, body: { definition: "echo" } })).status).toBe(
      202,
    );
    const limited = await call("POST", "/v1/tasks", { key: betaKey, body: { definition: "echo" } });
    expect(limited.body.error).toBe("rate_limited");
    expect(limited.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(served.components?.responses?.TooManyRequests).toMatchObject({
      headers: { "Retry-After": { schema: { type: "integer" } } },
    });
    expect((await call("PUT", "/v1/tenants/beta/limits", { ...root, body: {} })).status).toBe(200);
  });

  it("for definitions, runs, callbacks, workflows and cancels", async () => {
    expect(
      (await call("PUT", "/v1/definitions/echo", { body: { handler: "echo", params: { a: 1 } } })).status,
    ).toBe(201);
    expect((await call("PUT", "/v1/definitions/echo", { body: { handler: "echo" } })).status).toBe(200);
    await call("PUT", "/v1/definitions/hold", {
      body: { handler: "echo", mode: "callback", callbackTimeoutSeconds: 600 },
    });
    await call("PUT", "/v1/definitions/pair", {
      body: {
        kind: "workflow",
        steps: [
          { id: "one", definition: "echo" },
          { id: "two", definition: "echo", dependsOn: ["one"] },
        ],
      },
    });
    await call("PUT", "/v1/definitions/limited", {
      body: { handler: "sleep", params: { ms: 3000 }, maxConcurrency: 1, maxQueueLength: 0 },
    });
    await call("PUT", "/v1/definitions/nightly", {
      body: { handler: "echo", schedule: { cron: "0 2 * * *", timezone: "Europe/Berlin" } },
    });
    const page = await call("GET", "/v1/definitions?limit=2");
    expect(page.body.cursor).toEqual(expect.any(String));
    await call("GET", `/v1/definitions?limit=2&cursor=${encodeURIComponent(page.body.cursor)}`);
    await call("GET", "/v1/definitions/pair");
    expect((await call("GET", "/v1/definitions/absent")).status).toBe(404);
    expect((await call("PUT", "/v1/definitions/bad", { body: { handler: "no-such-handler" } })).status).toBe(
      400,
    );

    const started = await call("POST", "/v1/tasks", {
      body: { definition: "echo", params: { name: "Ada" }, idempotencyKey: "once" },
    });
    expect(started.status).toBe(202);
    const replay = await call("POST", "/v1/tasks", {
      body: { definition: "echo", params: { name: "Ada" }, idempotencyKey: "once" },
    });
    expect(replay.body.taskId).toBe(started.body.taskId);
    const reused = await call("POST", "/v1/tasks", { body: { definition: "echo", idempotencyKey: "once" } });
    expect(reused.status).toBe(409);
    expect(replay.body.idempotentReplay).toBe(true);
    await waitForEnd(stack, started.body.taskId);
    expect(
      (await call("GET", `/v1/tasks/${started.body.taskId}`, { key: stack.runnerKey })).body.status,
    ).toBe("succeeded");
    expect((await call("POST", `/v1/tasks/${started.body.taskId}/cancel`)).status).toBe(409);
    await call("PATCH", `/v1/tasks/${started.body.taskId}`, { body: { subtext: "checked" } });
    expect((await call("POST", `/v1/tasks/${started.body.taskId}/replay`, { body: {} })).status).toBe(202);
    const bulk = await call("POST", "/v1/tasks/bulk", {
      body: { action: "cancel", filter: { definition: "echo" }, dryRun: true },
    });
    expect(bulk.status).toBe(202);
    expect((await call("GET", `/v1/tasks/bulk/${bulk.body.bulkId}`)).status).toBe(200);
    const readToken = await call("POST", `/v1/tasks/${started.body.taskId}/read-token`, { body: {} });
    expect(readToken.status).toBe(201);
    expect(
      (await call("GET", `/v1/tasks/${started.body.taskId}`, { key: readToken.body.token })).status,
    ).toBe(200);
    // The run has ended: its stream is the opening frames and the end, then it closes.
    expect(
      (await call("GET", `/v1/tasks/${started.body.taskId}/events?token=${readToken.body.token}`)).body,
    ).toContain("event: end");

    const workflow = await call("POST", "/v1/tasks", { body: { definition: "pair" } });
    await waitForEnd(stack, workflow.body.taskId);
    expect((await call("GET", `/v1/tasks/${workflow.body.taskId}`)).body.steps).toHaveLength(2);
    expect((await call("GET", `/v1/tasks/${workflow.body.taskId}/started?limit=1`)).body.items).toHaveLength(
      1,
    );

    const held = await call("POST", "/v1/tasks", { body: { definition: "hold" } });
    await waitFor(async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${held.body.taskId}`);
      return body.status === "awaiting" ? body : undefined;
    });
    // The counts name each status on its own: the held run is counted as awaiting.
    const counts = await call("GET", "/v1/tasks/counts");
    expect(counts.body.byStatus.awaiting).toBeGreaterThanOrEqual(1);
    expect(counts.body.byStatus).not.toHaveProperty("active");
    await call("POST", "/v1/callbacks", {
      key: stack.runnerKey,
      body: { taskId: held.body.taskId, subtext: "half" },
    });
    const ended = await call("POST", "/v1/callbacks", {
      key: stack.runnerKey,
      body: { taskId: held.body.taskId, status: "SUCCESS", logs: ["done"], output: { ok: true } },
    });
    expect(ended.body.status).toBe("succeeded");
    expect((await call("POST", "/v1/callbacks", { body: { taskId: held.body.taskId } })).status).toBe(409);

    const later = await call("POST", "/v1/tasks", { body: { definition: "echo", after: 3_600_000 } });
    expect(later.body.status).toBe("scheduled");
    expect((await call("POST", `/v1/tasks/${later.body.taskId}/cancel`)).body.status).toBe("cancelled");
    await call("POST", "/v1/tasks", { body: { definition: "limited" } });
    expect((await call("POST", "/v1/tasks", { body: { definition: "limited" } })).status).toBe(429);

    const list = await call("GET", "/v1/tasks?limit=2");
    await call(
      "GET",
      `/v1/tasks?status=succeeded&definition=echo&cursor=${encodeURIComponent(list.body.cursor)}`,
    );
    expect((await call("GET", "/v1/tasks?limit=0")).status).toBe(400);
    expect((await call("POST", "/v1/tasks", { raw: "{not json" })).body.error).toBe("invalid_json");
    expect((await call("POST", "/v1/tasks", { body: { definition: "absent" } })).body.error).toBe(
      "unknown_definition",
    );
    expect((await call("GET", "/v1/tasks/absent")).status).toBe(404);
    expect((await call("DELETE", "/v1/definitions/nightly")).status).toBe(204);
    expect((await call("DELETE", "/v1/definitions/nightly")).status).toBe(404);
  });

  it("for chains, grants and files", async () => {
    await call("PUT", "/v1/definitions/write-file", { body: { handler: "write-file" } });
    await call("PUT", "/v1/definitions/notified", { body: { handler: "echo" } });
    expect(
      (await call("PUT", "/v1/chains/notify", { body: { definition: "notified", description: "x" } })).status,
    ).toBe(201);
    expect((await call("PUT", "/v1/chains/notify", { body: { definition: "notified" } })).status).toBe(200);
    await call("GET", "/v1/chains/notify");
    await call("GET", "/v1/chains");
    expect((await call("PUT", "/v1/access/beta/notify")).status).toBe(201);
    expect((await call("PUT", "/v1/access/beta/notify")).status).toBe(200);
    await call("GET", "/v1/access");

    const source = await call("POST", "/v1/tasks", {
      body: {
        definition: "write-file",
        params: { name: "report.txt", text: "numbers\n" },
        chain: { name: "notify", params: [{ name: "file", value: "@Output.FileName@" }] },
      },
    });
    const done = await waitForEnd(stack, source.body.taskId);
    await waitFor(async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${source.body.taskId}`);
      return body.chainOutcomes.length > 0 ? body : undefined;
    });
    const withOutcome = await call("GET", `/v1/tasks/${source.body.taskId}`);
    expect(withOutcome.body.chainOutcomes[0]).toMatchObject({ status: "started" });
    expect((await call("GET", `/v1/tasks/${done.taskId}/files/report.txt`)).status).toBe(302);
    expect((await call("GET", `/v1/tasks/${done.taskId}/files/missing.txt`)).status).toBe(404);
    const token = mintFileToken(FILE_TOKEN_SECRET, { tenant: "acme", key: done.output.FileKey }, new Date());
    expect((await call("GET", `/v1/files/${token}`, { key: null })).status).toBe(302);
    const [payload] = token.split(".");
    expect((await call("GET", `/v1/files/${payload}.${"A".repeat(43)}`, { key: null })).status).toBe(401);
    expect((await call("DELETE", `/v1/tasks/${done.taskId}/file-tokens`)).status).toBe(204);
    expect((await call("GET", `/v1/files/${token}`, { key: null })).status).toBe(401);
    expect((await call("DELETE", "/v1/tasks/nope/file-tokens")).status).toBe(404);

    expect((await call("DELETE", "/v1/access/beta/notify")).status).toBe(204);
    expect((await call("DELETE", "/v1/chains/notify")).status).toBe(204);
    expect((await call("DELETE", "/v1/chains/notify")).status).toBe(404);
    // Its 200 is the answer the coverage below counts; a busy machine's first probe may time out.
    await waitFor(async () => ((await stack.request("GET", "/health")).status === 200 ? true : undefined));
    expect((await call("GET", "/health", { key: null })).status).toBe(200);
    await call("GET", "/openapi.json", { key: null });
    const page = await call("GET", "/", { key: null });
    const script = String(page.body).match(/src="(dashboard\/[^"]+\.js)"/)?.[1];
    expect(script).toBeDefined();
    await call("GET", `/${script}`, { key: null });
    expect((await call("GET", "/dashboard/v1/nothing.js", { key: null })).status).toBe(404);
    const link = await call("GET", `/v1/tasks/${done.taskId}/files/report.txt/link`);
    expect(link.body.url).toMatch(/^https?:\/\//);
  });

  it("for upload destinations", async () => {
    const body = { url: "sftp://files.example.com:2222/inbox", username: "baton", password: "a-password-1" };
    expect((await call("PUT", "/v1/destinations/archive", { body })).status).toBe(201);
    expect((await call("PUT", "/v1/destinations/archive", { body })).status).toBe(200);
    await call("GET", "/v1/destinations/archive");
    await call("GET", "/v1/destinations");
    expect(
      (await call("PUT", "/v1/destinations/archive", { body: { ...body, url: "http://x" } })).status,
    ).toBe(400);
    expect((await call("DELETE", "/v1/destinations/archive")).status).toBe(204);
    expect((await call("GET", "/v1/destinations/archive")).status).toBe(404);
  });

  it("covered a documented success answer of every route", () => {
    const missing = routes.flatMap((route) =>
      Object.keys(route.doc.responses).some((status) =>
        answered.has(`${route.method} ${route.path} ${status}`),
      )
        ? []
        : [`${route.method} ${route.path}`],
    );
    expect(missing).toEqual([]);
  });
});

/** Whether a concrete path fits a route's template (each `{param}` one segment). */
function fitsTemplate(template: string, path: string): boolean {
  const pattern = template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${pattern.join("[^/]+")}$`).test(path);
}
