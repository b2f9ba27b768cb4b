/** Chains: starting the next task when a run succeeds, in the same tenant or, with a grant, another. */
import { DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { emitChains } from "../../shared/app/chains.ts";
import { startTask } from "../../shared/app/tasks.ts";
import type { Log } from "../../shared/core/ports.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
let globexKey: string;
/** Everything the services log, to be searched for clear text that must not be there. */
const logged: string[] = [];
const capture = (message: string, ...extra: unknown[]) => {
  logged.push(
    JSON.stringify([message, ...extra], (_key, value) => (value instanceof Error ? value.message : value)),
  );
};
const capturingLog: Log = { debug: capture, info: capture, warn: capture, error: capture };

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3, log: capturingLog });
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
  globexKey = (
    await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "admin" } })
  ).body.key;
  for (const key of [stack.adminKey, globexKey]) {
    await stack.request("PUT", "/v1/definitions/echo", { key, body: { handler: "echo" } });
    await stack.request("PUT", "/v1/chains/next", {
      key,
      body: { definition: "echo", description: "hand over" },
    });
  }
  await stack.request("PUT", "/v1/definitions/broken", {
    body: { handler: "fail", params: { nonRetriable: true } },
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Starts echo with a chain and returns the source run once it and its chain outcomes are in. */
async function chained(body: Record<string, unknown>, key = stack.adminKey) {
  const started = await stack.request("POST", "/v1/tasks", { key, body: { definition: "echo", ...body } });
  expect(started.status).toBe(202);
  return waitFor(async () => {
    const run = (await stack.request("GET", `/v1/tasks/${started.body.taskId}`, { key })).body;
    return run.status === "succeeded" && run.chainOutcomes.length > 0 ? run : undefined;
  });
}

describe("chains", () => {
  it("start the next task with values computed from the finished run", async () => {
    const source = await chained({
      params: { name: "Ada", count: 3 },
      chain: {
        name: "next",
        params: [
          { name: "greeting", value: "hello @Output.name@" },
          { name: "count", value: "@Param.count@" },
          { name: "by", value: "@UserID@" },
          { name: "on", value: "@DATE@" },
          { name: "from", value: "@TaskID@" },
          { name: "fixed", value: 7 },
        ],
      },
    });
    const [outcome] = source.chainOutcomes;
    expect(outcome).toMatchObject({
      name: "next",
      customerId: "acme",
      status: "started",
      childTaskId: expect.any(String),
    });
    const child = await waitForEnd(stack, outcome.childTaskId);
    expect(child.output).toEqual({
      greeting: "hello Ada",
      count: 3,
      by: source.createdBy,
      on: new Date().toISOString().slice(0, 10),
      from: source.taskId,
      fixed: 7,
    });
  });

  it("read a chain from the async-TaskChain param, as a JSON string", async () => {
    const spec = JSON.stringify({ name: "next", params: [{ name: "x", value: "1" }] });
    const source = await chained({ params: { "async-TaskChain": spec } });
    expect(source.chainOutcomes[0], JSON.stringify(source.chainOutcomes[0])).toMatchObject({
      status: "started",
    });
  });

  it("start nothing twice when emitted again", async () => {
    const source = await chained({ chain: { name: "next" } });
    const run = await stack.services.runs.get({ tenant: "acme", id: source.taskId });
    if (run === undefined) throw new Error("no run");
    const again = await emitChains(stack.services, run, run.output, startTask);
    expect(again[0]?.childTaskId).toBe(source.chainOutcomes[0].childTaskId);
    const children = (await stack.request("GET", "/v1/tasks?definition=echo&limit=100")).body.items.filter(
      (t: { taskId: string }) => t.taskId === source.chainOutcomes[0].childTaskId,
    );
    expect(children).toHaveLength(1);
  });

  it("record an unknown token or missing output as the chain's error, and start nothing", async () => {
    const source = await chained({
      chain: [
        { name: "next", params: [{ name: "a", value: "@Nope@" }] },
        { name: "next", params: [{ name: "b", value: "@Output.missing@" }] },
      ],
    });
    expect(source.chainOutcomes).toEqual([
      expect.objectContaining({
        status: "failed",
        error: expect.objectContaining({
          code: "chain_param_error",
          message: expect.stringMatching(/@Nope@/),
        }),
      }),
      expect.objectContaining({
        status: "failed",
        error: expect.objectContaining({ message: expect.stringMatching(/missing/) }),
      }),
    ]);
    expect(source.status).toBe("succeeded");
  });

  it("do not start on failure", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: { definition: "broken", chain: { name: "next" } },
    });
    const run = await waitForEnd(stack, started.body.taskId);
    expect(run.status).toBe("failed");
    expect(run.chainOutcomes).toEqual([]);
  });

  it("cross into another tenant only with its grant", async () => {
    const globexRuns = async () =>
      (await stack.request("GET", "/v1/tasks?limit=100", { key: globexKey })).body.items.length;
    const before = await globexRuns();
    const denied = await chained({
      chain: { customerId: "globex", name: "next", params: [{ name: "v", value: "x" }] },
    });
    expect(await globexRuns()).toBe(before); // nothing in the target
    expect(denied.chainOutcomes[0]).toMatchObject({
      status: "failed",
      error: { code: "chain_access_denied" },
    });

    const granted = await stack.request("PUT", "/v1/access/acme/next", { key: globexKey });
    expect(granted.status).toBe(201);
    const allowed = await chained({
      chain: { customerId: "globex", name: "next", params: [{ name: "v", value: "@TaskID@" }] },
    });
    const { childTaskId } = allowed.chainOutcomes[0];
    expect(allowed.chainOutcomes[0]).toMatchObject({ status: "started", customerId: "globex" });
    const child = await waitFor(async () => {
      const run = (await stack.request("GET", `/v1/tasks/${childTaskId}`, { key: globexKey })).body;
      return run.status === "succeeded" ? run : undefined;
    });
    expect(child.output).toEqual({ v: allowed.taskId });
    // The child belongs to the target tenant: the source tenant cannot read it.
    expect((await stack.request("GET", `/v1/tasks/${childTaskId}`)).status).toBe(404);

    expect((await stack.request("DELETE", "/v1/access/acme/next", { key: globexKey })).status).toBe(204);
    const revoked = await chained({ chain: { customerId: "globex", name: "next" } });
    expect(revoked.chainOutcomes[0]).toMatchObject({ error: { code: "chain_access_denied" } });
  });

  it("record a target's full waiting line as queue_full", async () => {
    await stack.request("PUT", "/v1/definitions/busy", {
      key: globexKey,
      // Holds the one slot until cancelled below, however slowly the second chain runs.
      body: { handler: "sleep", maxConcurrency: 1, maxQueueLength: 0, params: { ms: 60_000 } },
    });
    await stack.request("PUT", "/v1/chains/busy", { key: globexKey, body: { definition: "busy" } });
    await stack.request("PUT", "/v1/access/acme/busy", { key: globexKey });
    const first = await chained({ chain: { customerId: "globex", name: "busy" } });
    expect(first.chainOutcomes[0].status).toBe("started");
    const second = await chained({ chain: { customerId: "globex", name: "busy" } });
    expect(second.chainOutcomes[0]).toMatchObject({ status: "failed", error: { code: "queue_full" } });
    await stack.request("POST", `/v1/tasks/${first.chainOutcomes[0].childTaskId}/cancel`, { key: globexKey });
  });
});

describe("encrypted chain params", () => {
  it("are sealed before they are stored, show only as a placeholder, and open only in the handler", async () => {
    // Everything that leaves the use cases for SQS is recorded, to be searched for the clear text.
    const sent: unknown[] = [];
    const enqueue = stack.services.queue.enqueue.bind(stack.services.queue);
    stack.services.queue.enqueue = async (message, sendId) => {
      sent.push(message);
      return enqueue(message, sendId);
    };
    await stack.request("PUT", "/v1/definitions/peek", { body: { handler: "peek-secret" } });
    await stack.request("PUT", "/v1/chains/secret", { body: { definition: "peek" } });
    const started = await stack.request("POST", "/v1/tasks", {
      body: {
        definition: "echo",
        params: { name: "Ada" },
        chain: {
          name: "secret",
          params: [
            { name: "password", value: "hunter2", encrypt: true },
            { name: "greet", value: "hi @Output.name@", encrypt: true },
          ],
        },
      },
    });
    const source = await waitFor(async () => {
      const run = (await stack.request("GET", `/v1/tasks/${started.body.taskId}`)).body;
      return run.chainOutcomes.length > 0 ? run : undefined;
    });
    expect(source.chains[0].params.map((p: { value: unknown }) => p.value)).toEqual([
      "[encrypted]",
      "[encrypted]",
    ]);
    const stored = await stack.services.runs.get({ tenant: "acme", id: source.taskId });
    expect(JSON.stringify(stored)).not.toContain("hunter2");

    expect(source.chainOutcomes[0], JSON.stringify(source.chainOutcomes[0])).toMatchObject({
      status: "started",
    });
    const childId = source.chainOutcomes[0].childTaskId;
    const child = await waitForEnd(stack, childId);
    expect(child.params).toEqual({ password: "[encrypted]", greet: "[encrypted]" });
    expect(JSON.stringify(await stack.services.runs.get({ tenant: "acme", id: childId }))).not.toContain(
      "hunter2",
    );
    expect(child.output).toEqual({
      passwordLength: 7,
      passwordStartsWith: "hu",
      ctxSeesClearText: true,
      greet: "hi Ada",
    });

    // Nowhere else: not in any stored item, any message sent, or any API answer about the runs.
    const everyItem = await scanAll(`${stack.prefix}runs`);
    expect(everyItem).not.toContain("hunter2");
    expect(JSON.stringify(sent)).not.toContain("hunter2");
    expect(logged.join("\n")).not.toContain("hunter2");
    const answers = JSON.stringify([
      (await stack.request("GET", "/v1/tasks?limit=100")).body,
      (await stack.request("GET", `/v1/tasks/${source.taskId}`)).body,
      (await stack.request("GET", `/v1/tasks/${childId}`)).body.params,
    ]);
    expect(answers).not.toContain("hunter2");
    stack.services.queue.enqueue = enqueue;
  });
});

describe("chain and access APIs", () => {
  it.each([
    ["a spec without a name", { chain: { params: [] } }],
    ["a bad target tenant", { chain: { customerId: "Not A Tenant", name: "next" } }],
    ["an async-TaskChain that is not JSON", { params: { "async-TaskChain": "{nope" } }],
  ])("refuse %s at start with 400, writing nothing", async (_what, body) => {
    const response = await stack.request("POST", "/v1/tasks", { body: { definition: "echo", ...body } });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe("validation_failed");
  });

  it("manage chain records and grants (admins only), refusing grants for unknown chains or tenants", async () => {
    expect((await stack.request("GET", "/v1/chains/next")).body).toMatchObject({
      name: "next",
      definition: "echo",
    });
    expect((await stack.request("GET", "/v1/chains", { key: stack.runnerKey })).status).toBe(403);
    expect((await stack.request("PUT", "/v1/chains/bad", { body: { definition: "missing" } })).status).toBe(
      400,
    );
    expect((await stack.request("PUT", "/v1/access/globex/nothing")).status).toBe(400);
    expect((await stack.request("PUT", "/v1/access/nobody/next")).status).toBe(400);
    expect((await stack.request("GET", "/v1/access", { key: globexKey })).body.items).toEqual([
      expect.objectContaining({ sourceTenant: "acme", chain: "busy" }),
    ]);
    expect((await stack.request("DELETE", "/v1/chains/next")).status).toBe(204);
    expect((await stack.request("GET", "/v1/chains/next")).status).toBe(404);
  });
});

/** Every item of a table, as text, to search for what must not be there. */
async function scanAll(table: string): Promise<string> {
  const client = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: stack.endpoints.dynamodb,
    credentials: LOCAL_CREDENTIALS,
  });
  const items: unknown[] = [];
  let start: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  client.destroy();
  return JSON.stringify(items);
}
