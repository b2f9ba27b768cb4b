/**
 * The run engine: every end goes through endRun and its after-end list (so a workflow's chain
 * runs), every run records how it came to be, and a timed-out attempt retries when asked to.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";
import { TerminalWriteOutsideEngine } from "../support/terminal-write-guard.ts";

let stack: TestStack;
let globexKey: string;

const put = (name: string, body: Record<string, unknown>, key = stack.adminKey) =>
  stack.request("PUT", `/v1/definitions/${name}`, { key, body });
const get = async (id: string, key = stack.adminKey) =>
  (await stack.request("GET", `/v1/tasks/${id}`, { key })).body;
const startedBy = async (id: string, key = stack.adminKey) =>
  (await stack.request("GET", `/v1/tasks/${id}/started`, { key })).body.items;

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3 });
  await put("echo", { handler: "echo" });
  await put("broken", { handler: "fail", params: { nonRetriable: true } });
  await put("pipeline", {
    kind: "workflow",
    steps: [
      { id: "first", definition: "echo", params: { n: 1 } },
      { id: "second", definition: "echo", dependsOn: ["first"], params: { n: "@Step.first.n@" } },
    ],
  });
  await put("doomed", {
    kind: "workflow",
    steps: [{ id: "only", definition: "broken" }],
  });
  await stack.request("PUT", "/v1/chains/after-pipeline", { body: { definition: "echo" } });
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
  globexKey = (
    await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "admin" } })
  ).body.key;
  await put("echo", { handler: "echo" }, globexKey);
  await stack.request("PUT", "/v1/chains/inbox", { key: globexKey, body: { definition: "echo" } });
  await stack.request("PUT", "/v1/access/acme/inbox", { key: globexKey });
});
afterAll(async () => {
  await stack?.stop();
});

describe("the engine's end", () => {
  it("runs a chain given with a workflow start once the workflow succeeds", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: {
        definition: "pipeline",
        chain: { name: "after-pipeline", params: [{ name: "from", value: "@TaskID@" }] },
      },
    });
    expect(started.status).toBe(202);
    const workflow = await waitFor(async () => {
      const run = await get(started.body.taskId);
      return run.status === "succeeded" && run.chainOutcomes.length > 0 ? run : undefined;
    });
    // A workflow is one attempt, not "0 of 1".
    expect(workflow).toMatchObject({ attempts: 1, maxAttempts: 1, trigger: "api", origin: null, depth: 0 });
    const [outcome] = workflow.chainOutcomes;
    expect(outcome).toMatchObject({ name: "after-pipeline", status: "started" });
    const child = await waitForEnd(stack, outcome.childTaskId);
    expect(child).toMatchObject({
      status: "succeeded",
      output: { from: workflow.taskId },
      trigger: "chain",
      origin: { taskId: workflow.taskId, tenant: "acme", via: "chain:after-pipeline" },
      depth: 1,
    });
    // The workflow lists everything it started: its steps and its chained run.
    const listed = await startedBy(workflow.taskId);
    expect(listed.map((item: { via: string }) => item.via).sort()).toEqual([
      "chain:after-pipeline",
      "step:first",
      "step:second",
    ]);
    const stepRun = await get(workflow.steps[0].taskId);
    expect(stepRun).toMatchObject({
      trigger: "workflow",
      origin: { taskId: workflow.taskId, via: "step:first" },
      parent: { taskId: workflow.taskId, step: "first" },
    });
  });

  it("ends a workflow whose step failed through the same end: no chain, failed, counted once", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: { definition: "doomed", chain: { name: "after-pipeline", params: [] } },
    });
    const workflow = await waitForEnd(stack, started.body.taskId);
    expect(workflow).toMatchObject({ status: "failed", error: { code: "step_failed" }, chainOutcomes: [] });
    expect((await startedBy(workflow.taskId)).map((item: { via: string }) => item.via)).toEqual([
      "step:only",
    ]);
  });

  it("names the other tenant's run a cross-tenant chain started, and that run names its origin", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: {
        definition: "echo",
        params: { n: 1 },
        chain: { name: "inbox", customerId: "globex", params: [] },
      },
    });
    const source = await waitFor(async () => {
      const run = await get(started.body.taskId);
      return run.chainOutcomes?.length > 0 ? run : undefined;
    });
    const childId = source.chainOutcomes[0].childTaskId;
    expect(await startedBy(source.taskId)).toEqual([
      expect.objectContaining({ taskId: childId, tenant: "globex", trigger: "chain", via: "chain:inbox" }),
    ]);
    // Named, not described: which definition globex's chain starts is globex's own business.
    expect((await startedBy(source.taskId))[0].definition).toBeNull();
    // The child is globex's: acme cannot read it, globex sees where it came from.
    expect((await stack.request("GET", `/v1/tasks/${childId}`)).status).toBe(404);
    expect(await get(childId, globexKey)).toMatchObject({
      trigger: "chain",
      origin: { taskId: source.taskId, tenant: "acme" },
      root: { taskId: source.taskId, tenant: "acme" },
    });
    // And globex cannot list what acme's run started.
    expect(
      (await stack.request("GET", `/v1/tasks/${source.taskId}/started`, { key: globexKey })).status,
    ).toBe(404);
  });

  it("refuses, in every test stack, a terminal status written outside endRun", async () => {
    const id = (await stack.request("POST", "/v1/tasks", { body: { definition: "echo" } })).body.taskId;
    const run = await waitForEnd(stack, id);
    await expect(
      stack.services.runs.update(
        { tenant: "acme", id },
        { status: "succeeded", attempts: run.attempts },
        { status: "failed" },
      ),
    ).rejects.toBeInstanceOf(TerminalWriteOutsideEngine);
  });
});

describe("retryOnTimeout", () => {
  it("retries a hung attempt when set, and the run succeeds on the next", async () => {
    await put("hang-retried", {
      handler: "hang-once",
      timeoutSeconds: 1,
      maxAttempts: 2,
      retryOnTimeout: true,
    });
    const id = (await stack.request("POST", "/v1/tasks", { body: { definition: "hang-retried" } })).body
      .taskId;
    const run = await waitForEnd(stack, id, 30_000);
    expect(run).toMatchObject({
      status: "succeeded",
      attempts: 2,
      output: { attempt: 2 },
      retryOnTimeout: true,
    });
  });

  it("without it, ends timed_out after the first attempt", async () => {
    await put("hang-final", { handler: "hang-once", timeoutSeconds: 1, maxAttempts: 2 });
    const id = (await stack.request("POST", "/v1/tasks", { body: { definition: "hang-final" } })).body.taskId;
    const run = await waitForEnd(stack, id, 30_000);
    expect(run).toMatchObject({ status: "timed_out", attempts: 1, error: { code: "timed_out" } });
  });

  it("with it, still ends timed_out when the last attempt times out", async () => {
    await put("hang-always", { handler: "hang", timeoutSeconds: 1, maxAttempts: 2, retryOnTimeout: true });
    const id = (await stack.request("POST", "/v1/tasks", { body: { definition: "hang-always" } })).body
      .taskId;
    const run = await waitForEnd(stack, id, 30_000);
    expect(run).toMatchObject({ status: "timed_out", attempts: 2, error: { code: "timed_out" } });
  });

  it("is refused on a workflow definition", async () => {
    const response = await put("wf-retry", {
      kind: "workflow",
      retryOnTimeout: true,
      steps: [{ id: "a", definition: "echo" }],
    });
    expect(response.status).toBe(400);
  });
});
