/** Tasks that start tasks (ctx.tasks), through the real handlers on the emulators. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
let globexKey: string;

const put = (name: string, body: Record<string, unknown>, key = stack.adminKey) =>
  stack.request("PUT", `/v1/definitions/${name}`, { key, body });

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3, workerConcurrency: 4 });
  await put("starter", { handler: "starter", maxAttempts: 3 });
  await put("echo", { handler: "echo" });
  await put("timed", { handler: "timed" });
  await put("one-slot", { handler: "timed", maxConcurrency: 1, maxQueueLength: 0 });
  await put("import-batch", { handler: "import-batch" });
  await put("send-email", { handler: "send-email" });
  await put("notify-signups", { handler: "notify-signups" });
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
  globexKey = (
    await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "admin" } })
  ).body.key;
  await put("echo", { handler: "echo" }, globexKey);
});
afterAll(async () => {
  await stack?.stop();
});

async function runStarter(params: Record<string, unknown>, key = stack.adminKey) {
  const started = await stack.request("POST", "/v1/tasks", { key, body: { definition: "starter", params } });
  expect(started.status).toBe(202);
  return waitForEnd(stack, started.body.taskId, 30_000);
}

const get = async (id: string, key = stack.adminKey) =>
  (await stack.request("GET", `/v1/tasks/${id}`, { key })).body;

describe("ctx.tasks.start", () => {
  it("starts a run whose params went through JSON, which names its origin and is listed by it", async () => {
    const parent = await runStarter({
      starts: [{ definition: "echo", params: { n: 1 }, withOddValues: true }],
    });
    expect(parent.status).toBe("succeeded");
    const [{ taskId, status }] = parent.output.results;
    expect(status).toBe("queued");
    const child = await waitForEnd(stack, taskId);
    expect(child.status).toBe("succeeded");
    // As over HTTP: a Date became its ISO text; undefined and a function left no trace.
    expect(child.output).toEqual({ n: 1, when: "1970-01-01T00:00:00.000Z" });
    expect(child).toMatchObject({
      trigger: "task",
      origin: { taskId: parent.taskId, tenant: "acme", via: "task:1" },
      root: { taskId: parent.taskId, tenant: "acme" },
      depth: 1,
    });
    const listed = await stack.request("GET", `/v1/tasks/${parent.taskId}/started`);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([
      expect.objectContaining({ taskId, tenant: "acme", definition: "echo", trigger: "task", via: "task:1" }),
    ]);
  });

  it("starts later with `after` and `at` (a Date), through the delayed-start path", async () => {
    const before = Date.now();
    const parent = await runStarter({
      starts: [
        { definition: "timed", params: { ms: 1 }, after: 1_500 },
        { definition: "timed", params: { ms: 1 }, atInMs: 1_500 },
      ],
    });
    const results = parent.output.results as Array<{ taskId: string; status: string }>;
    expect(results.map((result) => result.status)).toEqual(["scheduled", "scheduled"]);
    for (const { taskId } of results) {
      const child = await waitForEnd(stack, taskId, 20_000);
      expect(child.status).toBe("succeeded");
      expect(Date.parse(child.startedAt)).toBeGreaterThanOrEqual(before + 1_000);
      expect(child.scheduledFor).not.toBeNull();
    }
  });

  it("never overlaps two children on one named queue", async () => {
    const parent = await runStarter({
      starts: [
        { definition: "timed", params: { ms: 400, seq: 1 }, queue: "serial" },
        { definition: "timed", params: { ms: 400, seq: 2 }, queue: "serial" },
      ],
    });
    const [first, second] = await Promise.all(
      (parent.output.results as Array<{ taskId: string }>).map(({ taskId }) => waitForEnd(stack, taskId)),
    );
    expect(first.output.seq).toBe(1);
    expect(second.output.start).toBeGreaterThanOrEqual(first.output.end);
  });

  it("meets queue_full as an error the handler can catch, with nothing started", async () => {
    const parent = await runStarter({
      catch: true,
      starts: [
        { definition: "one-slot", params: { ms: 3_000 } },
        { definition: "one-slot", params: { ms: 1 } },
        { definition: "no-such-definition" },
        { definition: "echo", params: { n: 1 }, tenant: "globex" },
      ],
    });
    expect(parent.status).toBe("succeeded");
    const [taken, full, unknown, foreign] = parent.output.results;
    expect(taken.status).toBe("queued");
    expect(full).toEqual({ error: "queue_full" });
    expect(unknown).toEqual({ error: "unknown_definition" });
    // There is no way to name another tenant: an unknown field is refused like over HTTP.
    expect(foreign).toEqual({ error: "validation_failed" });
    const listed = await stack.request("GET", `/v1/tasks/${parent.taskId}/started`);
    expect(listed.body.items.map((item: { taskId: string }) => item.taskId)).toEqual([taken.taskId]);
  });

  it("makes the same start on a retry without starting anything new", async () => {
    const parent = await runStarter({ failFirst: true, starts: [{ definition: "echo", params: { n: 2 } }] });
    expect(parent).toMatchObject({ status: "succeeded", attempts: 2 });
    const [again] = parent.output.results;
    const listed = await stack.request("GET", `/v1/tasks/${parent.taskId}/started`);
    expect(listed.body.items.map((item: { taskId: string }) => item.taskId)).toEqual([again.taskId]);
    expect((await waitForEnd(stack, again.taskId)).status).toBe("succeeded");
  });

  it("reads runs of its own tenant only", async () => {
    const own = await runStarter({ starts: [{ definition: "echo", params: { n: 3 } }] });
    const ownChild = own.output.results[0].taskId;
    await waitForEnd(stack, ownChild);
    const reader = await runStarter({ read: ownChild });
    expect(reader.output.results[0].read).toMatchObject({
      taskId: ownChild,
      status: "succeeded",
      output: { n: 3 },
    });
    const foreign = await stack.request("POST", "/v1/tasks", {
      key: globexKey,
      body: { definition: "echo", params: { secret: "globex's" } },
    });
    const blind = await runStarter({ read: foreign.body.taskId });
    expect(blind.output.results).toEqual([{ readError: "not_found" }]);
  });
});

describe("the shipped examples", () => {
  it("import-batch processes a long job in runs that each start the next", async () => {
    const first = await stack.request("POST", "/v1/tasks", {
      body: { definition: "import-batch", params: { total: 25, batchSize: 10, itemMs: 1 } },
    });
    const chainOfRuns = [];
    let id: string | null = first.body.taskId;
    while (id !== null) {
      const run = await waitForEnd(stack, id);
      expect(run.status).toBe("succeeded");
      chainOfRuns.push(run.output);
      id = run.output.continuation;
    }
    expect(chainOfRuns.map(({ from, to }) => [from, to])).toEqual([
      [0, 10],
      [10, 20],
      [20, 25],
    ]);
  });

  it("notify-signups fans out to send-email on the named queue", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: { definition: "notify-signups", params: { emails: ["ada@example.com", "bob@example.com"] } },
    });
    const parent = await waitForEnd(stack, started.body.taskId);
    expect(parent.status).toBe("succeeded");
    const emails = await Promise.all((parent.output.emails as string[]).map((id) => waitForEnd(stack, id)));
    expect(emails.map((email) => [email.queue, email.status, email.output.to])).toEqual([
      ["email", "succeeded", "ada@example.com"],
      ["email", "succeeded", "bob@example.com"],
    ]);
    expect(emails[0].logs[0].line).toBe('delivered "Welcome aboard" to ada@example.com');
    const listed = await waitFor(async () => {
      const page = (await stack.request("GET", `/v1/tasks/${parent.taskId}/started`)).body;
      return page.items.length === 2 ? page.items : undefined;
    });
    expect(listed.map((item: { via: string }) => item.via).sort()).toEqual([
      "task:email:ada@example.com",
      "task:email:bob@example.com",
    ]);
    expect(await get(emails[0].taskId)).toMatchObject({ origin: { taskId: parent.taskId } });
  });
});
