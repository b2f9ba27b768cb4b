/** The api handler, over HTTP, on the emulators: auth, definitions, starts, reads, and bad input. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AttemptView } from "../../functions/api/responses.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import { startTask, startTestStack, type TestStack, waitForEnd } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
  await stack.request("PUT", "/v1/definitions/echo", {
    body: { handler: "echo", params: { greeting: "hi" } },
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** How many runs tenant acme has; used to prove that rejected starts wrote nothing. */
async function runCount(): Promise<number> {
  const { body } = await stack.request("GET", "/v1/tasks?limit=100");
  return body.items.length;
}

describe("authentication and roles", () => {
  it("answers 401 without a key or with an unknown one", async () => {
    const missing = await stack.request("GET", "/v1/tenant", { key: null });
    expect(missing.status).toBe(401);
    expect(missing.body).toMatchObject({ error: "unauthorized" });
    expect((await stack.request("GET", "/v1/tenant", { key: "bk_000000000000_nope" })).status).toBe(401);
  });

  it("tells a key its tenant and role", async () => {
    expect((await stack.request("GET", "/v1/tenant", { key: stack.runnerKey })).body).toMatchObject({
      tenant: "acme",
      role: "runner",
    });
    expect((await stack.request("GET", "/v1/tenant", { key: stack.rootKey })).body).toEqual({
      role: "operator",
    });
  });

  it("keeps runner keys off admin routes (403)", async () => {
    const response = await stack.request("PUT", "/v1/definitions/x", {
      key: stack.runnerKey,
      body: { handler: "echo" },
    });
    expect(response.status).toBe(403);
    expect(response.body.error).toBe("forbidden");
    expect((await stack.request("GET", "/v1/definitions/x")).status).toBe(404);
  });

  it("lets only the operator create tenants and keys, and the new key works at once", async () => {
    expect((await stack.request("POST", "/v1/tenants", { body: { id: "globex" } })).status).toBe(403);
    const created = await stack.request("POST", "/v1/tenants", {
      key: stack.rootKey,
      body: { id: "globex" },
    });
    expect(created.status).toBe(201);
    expect(
      (await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } })).status,
    ).toBe(409);
    const issued = await stack.request("POST", "/v1/tenants/globex/keys", {
      key: stack.rootKey,
      body: { role: "admin" },
    });
    expect(issued.status).toBe(201);
    expect(issued.body).toMatchObject({
      tenant: "globex",
      role: "admin",
      key: expect.stringMatching(/^bk_/),
    });
    expect((await stack.request("GET", "/v1/tenant", { key: issued.body.key })).body.tenant).toBe("globex");
    const noTenant = await stack.request("POST", "/v1/tenants/nobody/keys", {
      key: stack.rootKey,
      body: { role: "admin" },
    });
    expect(noTenant.status).toBe(404);
    const badRole = await stack.request("POST", "/v1/tenants/globex/keys", {
      key: stack.rootKey,
      body: { role: "owner" },
    });
    expect(badRole.status).toBe(400);
  });

  it("hides another tenant's task behind 404", async () => {
    const started = await stack.request("POST", "/v1/tasks", { body: { definition: "echo" } });
    await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "initech" } });
    const other = await stack.request("POST", "/v1/tenants/initech/keys", {
      key: stack.rootKey,
      body: { role: "admin" },
    });
    const peek = await stack.request("GET", `/v1/tasks/${started.body.taskId}`, { key: other.body.key });
    expect(peek.status).toBe(404);
    expect(peek.body.error).toBe("not_found");
    expect((await stack.request("GET", "/v1/tasks", { key: other.body.key })).body.items).toEqual([]);
  });
});

describe("definitions", () => {
  it("creates (201), replaces (200), reads, lists and deletes (204)", async () => {
    const created = await stack.request("PUT", "/v1/definitions/report", {
      body: { handler: "echo", maxAttempts: 5 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "report", handler: "echo", maxAttempts: 5, params: {} });
    expect(created.body.tenant).toBeUndefined();
    const replaced = await stack.request("PUT", "/v1/definitions/report", {
      body: { handler: "sleep", description: "nightly" },
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({
      handler: "sleep",
      maxAttempts: 3,
      createdAt: created.body.createdAt,
    });
    expect(
      (await stack.request("GET", "/v1/definitions/report", { key: stack.runnerKey })).body.description,
    ).toBe("nightly");
    const names = (await stack.request("GET", "/v1/definitions")).body.items.map(
      (d: { name: string }) => d.name,
    );
    expect(names).toContain("report");
    expect((await stack.request("DELETE", "/v1/definitions/report")).status).toBe(204);
    expect((await stack.request("DELETE", "/v1/definitions/report")).status).toBe(404);
  });

  it("rejects handlers that are not registered in code", async () => {
    const response = await stack.request("PUT", "/v1/definitions/evil", { body: { handler: "rm -rf /" } });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/not registered/);
    expect((await stack.request("GET", "/v1/definitions/evil")).status).toBe(404);
  });

  it.each([
    ["a space", "has%20space"],
    ["65 characters", "x".repeat(65)],
    ["a dot", "a.b"],
  ])("rejects a name with %s", async (_what, name) => {
    const response = await stack.request("PUT", `/v1/definitions/${name}`, { body: { handler: "echo" } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: "validation_failed", message: expect.any(String) });
  });

  it("rejects unknown fields and a body name that differs from the path", async () => {
    expect(
      (await stack.request("PUT", "/v1/definitions/d", { body: { handler: "echo", urgency: 2 } })).status,
    ).toBe(400);
    expect(
      (await stack.request("PUT", "/v1/definitions/d", { body: { handler: "echo", name: "e" } })).status,
    ).toBe(400);
    expect((await stack.request("GET", "/v1/definitions/d")).status).toBe(404);
  });
});

describe("starting and reading tasks", () => {
  it("runs a task to success and shows everything about it", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      key: stack.runnerKey,
      body: { definition: "echo", params: { name: "Ada" } },
    });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ taskId: expect.any(String), status: "queued" });
    const task = await waitForEnd(stack, started.body.taskId);
    expect(task).toMatchObject({
      taskId: started.body.taskId,
      definition: "echo",
      status: "succeeded",
      attempts: 1,
      params: { greeting: "hi", name: "Ada" },
      output: { greeting: "hi", name: "Ada" },
      error: null,
      startedAt: expect.any(String),
      endedAt: expect.any(String),
    });
  });

  it("carries any JSON params through unchanged, even deep nesting and extreme numbers", async () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 50; i += 1) deep = [deep];
    const params = {
      "": "empty key",
      constructor: { prototype: 1 },
      deep,
      huge: 1e300,
      tiny: -1e-300,
      text: "ünï 😀",
    };
    const started = await stack.request("POST", "/v1/tasks", { body: { definition: "echo", params } });
    expect(started.status).toBe(202);
    const task = await waitForEnd(stack, started.body.taskId);
    expect(task.output).toEqual({ greeting: "hi", ...params });
  });

  it("keeps the params snapshot when the definition changes later", async () => {
    await stack.request("PUT", "/v1/definitions/snap", {
      body: { handler: "sleep", params: { ms: 300, steps: 3 } },
    });
    const started = await stack.request("POST", "/v1/tasks", { body: { definition: "snap" } });
    await stack.request("PUT", "/v1/definitions/snap", {
      body: { handler: "sleep", params: { ms: 1, steps: 1 } },
    });
    const task = await waitForEnd(stack, started.body.taskId);
    expect(task.params).toEqual({ ms: 300, steps: 3 });
    expect(task.output).toEqual({ slept: 300 });
    expect(task.progress).toBe(1);
    expect(task.feedback).toBe("step 1/3\nstep 2/3\nstep 3/3");
  });

  it("retries a failing task with backoff, then fails it with every attempt recorded", async () => {
    await stack.request("PUT", "/v1/definitions/flaky", { body: { handler: "fail", maxAttempts: 2 } });
    const started = await stack.request("POST", "/v1/tasks", { body: { definition: "flaky" } });
    const task = await waitForEnd(stack, started.body.taskId);
    expect(task).toMatchObject({
      status: "failed",
      attempts: 2,
      error: { code: "handler_error", message: "fail on attempt 2" },
    });
    expect(task.logs.map((l: { line: string }) => l.line)).toEqual([
      "fail on attempt 1",
      "fail on attempt 2",
    ]);
    // The second attempt waited for its backoff (at least half the 1 s base).
    const [first, second] = task.logs.map((l: { at: string }) => Date.parse(l.at));
    expect(second - first).toBeGreaterThanOrEqual(500);
    // Each attempt with its own error and the handler's stack, cut where the worker's frames begin.
    expect(task.attemptHistory).toHaveLength(2);
    task.attemptHistory.forEach((attempt: AttemptView, index: number) => {
      expect(attempt).toMatchObject({
        attempt: index + 1,
        outcome: "failed",
        error: { code: "handler_error", name: "Error", message: `fail on attempt ${index + 1}` },
      });
      expect(attempt.durationMs).toBe(
        Date.parse(attempt.endedAt ?? "") - Date.parse(attempt.startedAt ?? ""),
      );
      const frames = attempt.error?.stack?.split("\n") ?? [];
      expect(frames[0]).toBe(`Error: fail on attempt ${index + 1}`);
      expect(frames[1]).toContain("examples/fail.ts");
      expect(frames.at(-1)).toBe("    at … (Baton's worker)");
      expect(frames.some((frame) => frame.includes("shared/app/"))).toBe(false);
    });
    // A read token (a frontend's) sees each attempt's error, not the handler's stack trace.
    const { token } = (await stack.request("POST", `/v1/tasks/${task.taskId}/read-token`)).body;
    const viaToken = (await stack.request("GET", `/v1/tasks/${task.taskId}`, { key: token })).body;
    expect(viaToken.attemptHistory).toHaveLength(2);
    for (const attempt of viaToken.attemptHistory as AttemptView[]) {
      expect(attempt.error).toMatchObject({ code: "handler_error", name: "Error" });
      expect(attempt.error).not.toHaveProperty("stack");
    }
    // A run that succeeds at once has one attempt, derived from the run itself.
    const plain = await waitForEnd(
      stack,
      (await stack.request("POST", "/v1/tasks", { body: { definition: "echo" } })).body.taskId,
    );
    expect(plain.attemptHistory).toEqual([
      {
        attempt: 1,
        startedAt: plain.startedAt,
        endedAt: plain.endedAt,
        durationMs: Date.parse(plain.endedAt) - Date.parse(plain.startedAt),
        outcome: "succeeded",
        error: null,
      },
    ]);
  });

  it("refuses to start a definition whose handler this deployment no longer has", async () => {
    const now = new Date().toISOString();
    await stack.services.definitions.put({
      tenant: "acme",
      name: "orphan",
      handler: "removed-in-last-deploy",
      params: {},
      maxAttempts: 3,
      timeoutSeconds: 60,
      createdAt: now,
      updatedAt: now,
    });
    const before = await runCount();
    const response = await stack.request("POST", "/v1/tasks", { body: { definition: "orphan" } });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/removed-in-last-deploy/);
    expect(await runCount()).toBe(before);
  });

  it("fails a NonRetriableError at once", async () => {
    await stack.request("PUT", "/v1/definitions/fatal", {
      body: { handler: "fail", params: { nonRetriable: true } },
    });
    const started = await stack.request("POST", "/v1/tasks", { body: { definition: "fatal" } });
    const task = await waitForEnd(stack, started.body.taskId);
    expect(task).toMatchObject({ status: "failed", attempts: 1, error: { code: "non_retriable" } });
  });

  it("lists newest first with filters and a cursor", async () => {
    await stack.request("PUT", "/v1/definitions/listed", { body: { handler: "echo" } });
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      ids.push((await stack.request("POST", "/v1/tasks", { body: { definition: "listed" } })).body.taskId);
    }
    for (const id of ids) await waitForEnd(stack, id);
    const first = await stack.request("GET", "/v1/tasks?definition=listed&limit=2");
    expect(first.body.items.map((t: { taskId: string }) => t.taskId)).toEqual([ids[2], ids[1]]);
    const next = await stack.request(
      "GET",
      `/v1/tasks?definition=listed&limit=2&cursor=${encodeURIComponent(first.body.cursor)}`,
    );
    expect(next.body.items.map((t: { taskId: string }) => t.taskId)).toEqual([ids[0]]);
    expect(next.body.cursor).toBeNull();
    const succeeded = await stack.request("GET", "/v1/tasks?status=succeeded&definition=listed");
    expect(succeeded.body.items).toHaveLength(3);
    expect((await stack.request("GET", "/v1/tasks?status=failed&definition=listed")).body.items).toHaveLength(
      0,
    );
  });

  it("lists summaries: no params, output or logs, and only the newest end of the feedback", async () => {
    await stack.request("PUT", "/v1/definitions/items", { body: { handler: "items" } });
    const items = Array.from(
      { length: 60 },
      (_, i) => `contract-${String(i).padStart(2, "0")}-${"x".repeat(20)}`,
    );
    const id = await startTask(stack, { definition: "items", params: { items, stepMs: 0 } });
    const run = await waitForEnd(stack, id);
    expect(run.status).toBe("succeeded");
    expect(run.feedback.length).toBeGreaterThan(LIMITS.summaryFeedbackChars);
    const listed = (await stack.request("GET", "/v1/tasks?definition=items")).body.items;
    expect(listed).toHaveLength(1);
    const [summary] = listed;
    for (const field of ["params", "output", "logs", "chains", "chainOutcomes", "steps", "logsDropped"]) {
      expect(summary, field).not.toHaveProperty(field);
    }
    expect(summary.feedback).toHaveLength(LIMITS.summaryFeedbackChars);
    expect(run.feedback.endsWith(summary.feedback)).toBe(true);
    expect(summary.feedback.endsWith(`created ${items[59]}`)).toBe(true);
    // The run page keeps everything.
    expect(run.params.items).toEqual(items);
    expect(run.output).toMatchObject({ count: 60 });
  });

  it("answers bad list queries with 400", async () => {
    for (const query of [
      "status=done",
      "limit=0",
      "limit=101",
      "cursor=%7B",
      "definition=a%20b",
      "colour=red",
    ]) {
      const response = await stack.request("GET", `/v1/tasks?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error, query).toBe("validation_failed");
    }
  });
});

describe("bad input gets a clear 4xx and writes nothing", () => {
  const cases: Array<[string, { body?: unknown; raw?: string }, number, string]> = [
    ["malformed JSON", { raw: "{definition:" }, 400, "invalid_json"],
    ["an empty body", { raw: "" }, 400, "validation_failed"],
    ["a JSON array", { body: [1, 2] }, 400, "validation_failed"],
    ["an unknown definition", { body: { definition: "nope" } }, 400, "unknown_definition"],
    ["a bad definition name", { body: { definition: "../etc" } }, 400, "validation_failed"],
    ["a bad queue name", { body: { definition: "echo", queue: "a queue" } }, 400, "validation_failed"],
    [
      "params that are not an object",
      { body: { definition: "echo", params: "x=1" } },
      400,
      "validation_failed",
    ],
    ["params that are an array", { body: { definition: "echo", params: [1] } }, 400, "validation_failed"],
    ["an unknown field", { body: { definition: "echo", urgency: 1 } }, 400, "validation_failed"],
    [
      "params over 1 MiB",
      { body: { definition: "echo", params: { blob: "x".repeat(1024 * 1024) } } },
      413,
      "payload_too_large",
    ],
    [
      "a body over the request limit",
      { raw: JSON.stringify({ definition: "echo", params: { b: "x".repeat(1_200_000) } }) },
      413,
      "payload_too_large",
    ],
  ];

  it.each(cases)("%s", async (_what, input, status, error) => {
    const before = await runCount();
    const response = await stack.request("POST", "/v1/tasks", input);
    expect(response.status).toBe(status);
    expect(response.body).toMatchObject({ error, message: expect.any(String) });
    expect(await runCount()).toBe(before);
  });

  it("refuses __proto__ keys, at any depth", async () => {
    const before = await runCount();
    const response = await stack.request("POST", "/v1/tasks", {
      raw: '{"definition":"echo","params":{"a":[{"b":{"__proto__":{"polluted":true}}}]}}',
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/__proto__/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await runCount()).toBe(before);
  });

  it("answers unknown routes and malformed task ids with 4xx", async () => {
    expect((await stack.request("GET", "/v1/nothing")).status).toBe(404);
    expect((await stack.request("GET", "/v1/tasks/%2E%2E%2Fetc")).status).toBe(400);
    expect((await stack.request("GET", "/v1/tasks/01HZZZZZZZZZZZZZZZZZZZZZZZ")).status).toBe(404);
  });
});
