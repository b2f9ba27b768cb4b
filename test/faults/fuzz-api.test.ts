/**
 * Every route of the API's route table, fuzzed with hostile input: wrong types, megabyte strings,
 * unicode (emoji, NUL, right-to-left marks), prototype-pollution keys in bodies and queries, path
 * tricks (`..`, `%2e%2e`, encoded slashes, broken percent-encoding, very long ids), bad JSON,
 * wrong content types, missing and garbage credentials. The API must answer 4xx with an
 * `{error, message}` body (never a 5xx), a refused request must change no item in any table,
 * and nothing may reach Object.prototype. A new route in functions/api/routes.ts is fuzzed too.
 *
 * Replay a failure with BATON_FAULT_SEED=<seed printed below>.
 */
import { request as httpRequest } from "node:http";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { apiRoutes } from "../../functions/api/routes.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";
import { readAllTables } from "../support/tables.ts";
import { seedFromEnv } from "./support.ts";

const SEED = seedFromEnv();
const RUNS_PER_ROUTE = 12;

let stack: TestStack;
let taskId: string;

beforeAll(async () => {
  // No worker and no timers: between two requests nothing but the API may change the tables.
  stack = await startTestStack({ runWorker: false, timerIntervalMs: 0 });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
  await stack.request("PUT", "/v1/chains/next", { body: { definition: "echo" } });
  taskId = (await stack.request("POST", "/v1/tasks", { body: { definition: "echo" } })).body.taskId;
});
afterAll(async () => {
  await stack?.stop();
});

interface Answer {
  status: number;
  text: string;
}

/** Raw HTTP, so paths go out exactly as written (fetch would resolve `..` and re-encode). */
function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const url = new URL(stack.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      // An event stream answers with its status and stays open until its run ends: that is its answer.
      if (String(res.headers["content-type"]).startsWith("text/event-stream")) {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, text: "(an event stream)" });
        return;
      }
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on("error", reject);
    });
    req.on("error", reject);
    // A request the API never answers is a finding of its own, named, not a test timeout.
    req.setTimeout(ANSWER_WITHIN_MS, () => {
      req.destroy();
      resolve({ status: 0, text: `no answer within ${ANSWER_WITHIN_MS} ms` });
    });
    req.end(body);
  });
}

const ANSWER_WITHIN_MS = 15_000;

const HOSTILE_SEGMENTS = [
  "..",
  ".",
  "%2e%2e",
  "%2E%2E%2F%2E%2E",
  "..%2F..%2Fetc%2Fpasswd",
  "a%2Fb",
  "%2F",
  "%00",
  "%ZZ",
  "%",
  "%E2%80%AE",
  "__proto__",
  "constructor",
  "prototype",
  "x".repeat(5_000),
  "%F0%9F%8E%89",
];

const hostileText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("\u0000", "\u202Eevil", "🎉🎉", "__proto__", "constructor", "", " ", "null"),
  fc.string({ unit: "grapheme", minLength: 1000, maxLength: 3000 }),
);

const segment = fc.oneof(
  fc.constantFrom(...HOSTILE_SEGMENTS),
  hostileText.map((text) => encodeURIComponent(text)),
  fc.constant("VALID"),
);

const pollutionBodies = [
  '{"__proto__": {"polluted": "yes"}}',
  '{"constructor": {"prototype": {"polluted": "yes"}}}',
  '{"definition": "echo", "params": {"__proto__": {"polluted": "yes"}}}',
  '{"definition": "echo", "params": {"constructor": {"prototype": {"polluted": "yes"}}}}',
  '{"handler": "echo", "params": {"prototype": {"polluted": "yes"}}, "__proto__": {"polluted": "yes"}}',
];

const body = fc.oneof(
  fc.jsonValue().map((value) => JSON.stringify(value)),
  fc
    .anything({ withNullPrototype: true, withObjectString: true })
    .map((value) => JSON.stringify(value) ?? ""),
  fc.constantFrom(...pollutionBodies),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.constantFrom("{", '{"a":', "[1,2", "undefined", "NaN", '{"a": 1}}', "\u0000{}"),
  fc
    .record(
      {
        definition: hostileText,
        params: fc.oneof(fc.jsonValue(), fc.constant({ "\u0000": 1 })),
        queue: hostileText,
        role: hostileText,
        subtext: fc.oneof(hostileText, fc.integer()),
        taskId: hostileText,
        handler: fc.oneof(hostileText, fc.constant("echo")),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value)),
  fc.constant(undefined),
);

const query = fc.oneof(
  fc.constant(""),
  fc.constantFrom(
    "?__proto__[polluted]=yes",
    "?__proto__=x",
    "?constructor[prototype][polluted]=yes",
    "?limit=-1",
    "?limit=abc",
    "?limit=1e9",
    "?cursor=%ZZ",
    "?cursor=AAAA",
    "?status=running&status=queued",
    "?prototype=1",
  ),
  fc.dictionary(hostileText, hostileText, { maxKeys: 3 }).map(
    (entries) =>
      `?${Object.entries(entries)
        .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
        .join("&")}`,
  ),
);

type KeyChoice = "admin" | "runner" | "root" | "none" | "garbage" | "basic" | "huge" | "unicode";
const keyChoice = fc.constantFrom<KeyChoice>(
  "admin",
  "admin",
  "runner",
  "root",
  "none",
  "garbage",
  "basic",
  "huge",
  "unicode",
);
const contentType = fc.constantFrom(
  "application/json",
  "application/json",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/json; charset=utf-16",
);

function authorization(choice: KeyChoice): Record<string, string> {
  switch (choice) {
    case "admin":
      return { authorization: `Bearer ${stack.adminKey}` };
    case "runner":
      return { authorization: `Bearer ${stack.runnerKey}` };
    case "root":
      return { authorization: `Bearer ${stack.rootKey}` };
    case "none":
      return {};
    case "garbage":
      return { authorization: "Bearer not-a-key" };
    case "basic":
      return { authorization: "Basic dXNlcjpwYXNz" };
    case "huge":
      return { authorization: `Bearer ${"k".repeat(8_000)}` };
    case "unicode":
      return { authorization: `Bearer ${encodeURIComponent("🎉\u202E")}` };
  }
}

function fillPath(template: string, segments: string[]): string {
  let i = 0;
  return template.replace(/\{[^}]+\}/g, () => {
    const value = segments[i++] ?? "VALID";
    return value === "VALID" ? (template.startsWith("/v1/tasks") ? taskId : "echo") : value;
  });
}

let requests = 0;
let refused = 0;
const problems: string[] = [];

/** Sends one request; checks the answer, the tables (when refused) and Object.prototype. */
async function check(method: string, path: string, headers: Record<string, string>, text?: string) {
  const before = await readAllTables(stack.endpoints.dynamodb, stack.prefix);
  const answer = await send(method, path, headers, text);
  requests += 1;
  const where = `${method} ${path.slice(0, 120)} [${(text ?? "").slice(0, 80)}]`;
  if (answer.status >= 500 || answer.status === 0)
    problems.push(`${where}: ${answer.status} ${answer.text.slice(0, 200)}`);
  const blank: Record<string, unknown> = {};
  if (blank.polluted !== undefined || Object.keys(Object.prototype).length > 0) {
    problems.push(`${where}: Object.prototype was polluted`);
  }
  if (answer.status >= 400 && answer.status < 500) {
    refused += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      parsed = undefined;
    }
    const shape = parsed as { error?: unknown; message?: unknown } | undefined;
    if (typeof shape?.error !== "string" || typeof shape?.message !== "string") {
      problems.push(`${where}: ${answer.status} without {error, message}: ${answer.text.slice(0, 200)}`);
    }
    const after = await readAllTables(stack.endpoints.dynamodb, stack.prefix);
    if (JSON.stringify(after) !== JSON.stringify(before))
      problems.push(`${where}: refused, yet the tables changed`);
  }
  return answer;
}

it("answers hostile input on every route with a 4xx {error, message}, changing nothing", {
  timeout: 240_000,
}, async () => {
  const started = Date.now();
  const routes = apiRoutes(stack.services).map(({ method, path }) => ({ method: String(method), path }));
  expect(routes.length).toBeGreaterThan(20);
  for (const route of routes) {
    const params = (route.path.match(/\{[^}]+\}/g) ?? []).length;
    const hasBody = route.method !== "GET" && route.method !== "DELETE";
    // The fixed cases: pollution bodies, a megabyte body, bad JSON, no credentials.
    if (hasBody) {
      for (const text of [...pollutionBodies, `{"definition": "${"x".repeat(2 * 1024 * 1024)}"}`, "{"]) {
        await check(
          route.method,
          fillPath(route.path, []),
          {
            ...authorization("admin"),
            "content-type": "application/json",
          },
          text,
        );
      }
    }
    await check(
      route.method,
      `${fillPath(route.path, [])}?__proto__[polluted]=yes&constructor[prototype][polluted]=yes`,
      {
        ...authorization("runner"),
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: params, maxLength: params }),
        query,
        keyChoice,
        contentType,
        hasBody ? body : fc.constant(undefined),
        async (segments, search, key, type, text) => {
          await check(
            route.method,
            `${fillPath(route.path, segments)}${route.method === "GET" ? search : ""}`,
            { ...authorization(key), "content-type": type },
            text,
          );
        },
      ),
      { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
    );
  }
  // Paths that match no route at all.
  for (const path of [
    "/v1/tasks/a/b/c",
    "/v1/%2e%2e/tenant",
    "/../../etc/passwd",
    "/v1/tasks%2F..%2Fkeys",
    "/v2/tasks",
  ]) {
    await check("GET", path, authorization("admin"));
  }
  console.log(
    `fuzz-api: seed=${SEED}, routes=${routes.length}, requests=${requests}, refused (4xx)=${refused}, ` +
      `5xx=${problems.filter((p) => / 5\d\d /.test(p)).length}, problems=${problems.length}, ` +
      `${Math.round((Date.now() - started) / 1000)} s`,
  );
  expect(problems).toEqual([]);
});
