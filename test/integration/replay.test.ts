/** Replay (POST /v1/tasks/{id}/replay), through the real handlers on the emulators. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTenantKey } from "../../shared/app/identity.ts";
import { newApiKey } from "../../shared/core/tenant.ts";
import { stepRunId } from "../../shared/core/workflow.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
const otherKey = newApiKey().key;

beforeAll(async () => {
  stack = await startTestStack();
  await ensureTenantKey(stack.services, { tenant: "replay-other", role: "admin", key: otherKey });
  for (const [name, body] of [
    ["echo", { handler: "echo", params: { greeting: "hello" } }],
    ["nap", { handler: "sleep", params: { ms: 10, steps: 1 } }],
    ["broken", { handler: "fail", params: { nonRetriable: true, message: "no data" } }],
  ] as const) {
    await stack.request("PUT", `/v1/definitions/${name}`, { body });
  }
});
afterAll(async () => {
  await stack?.stop();
});

const start = async (body: Record<string, unknown>) => {
  const response = await stack.request("POST", "/v1/tasks", { body });
  expect(response.status).toBe(202);
  return response.body.taskId as string;
};
const replay = (id: string, body?: unknown, key?: string) =>
  stack.request("POST", `/v1/tasks/${id}/replay`, {
    ...(body === undefined ? {} : { body }),
    ...(key === undefined ? {} : { key }),
  });
const get = async (id: string) => (await stack.request("GET", `/v1/tasks/${id}`)).body;

describe("replay", () => {
  it("starts a new run with the original's params snapshot, overrides and chains, leaving the original as it was", async () => {
    await stack.request("PUT", "/v1/chains/after-echo", { body: { definition: "nap" } });
    const chain = { name: "after-echo", params: [{ name: "from", value: "@Output.name@" }] };
    const id = await start({ definition: "echo", params: { name: "Ada" }, chain });
    const chained = async (taskId: string) =>
      waitFor(async () => {
        const run = await get(taskId);
        return run.chainOutcomes.length > 0 ? run : undefined;
      });
    const original = await chained(id);
    expect(original.status).toBe("succeeded");

    const replayed = await replay(id, { params: { name: "Grace" } });
    expect(replayed.status).toBe(202);
    expect(replayed.body.taskId).not.toBe(id);
    const run = await chained(replayed.body.taskId);
    expect(run).toMatchObject({
      status: "succeeded",
      definition: "echo",
      trigger: "replay",
      replayOf: id,
      params: { greeting: "hello", name: "Grace" },
      output: { greeting: "hello", name: "Grace" },
    });
    expect(run.chains).toEqual(original.chains);
    // Its chain ran again, from the replay's own output.
    const child = await waitForEnd(stack, run.chainOutcomes[0].childTaskId);
    expect(child.params).toMatchObject({ from: "Grace" });
    expect(child.origin).toMatchObject({ taskId: run.taskId });
    // The original is untouched: the same document, still naming no replay of its own.
    expect(await get(id)).toEqual(original);
    expect(original.replayOf).toBeNull();
  });

  it("needs no body, and answers the same run to a repeat with the same idempotency key", async () => {
    const id = await start({ definition: "broken" });
    expect((await waitForEnd(stack, id)).status).toBe("failed");
    const bare = await replay(id);
    expect(bare.status).toBe(202);
    expect((await get(bare.body.taskId)).params).toEqual({ nonRetriable: true, message: "no data" });

    const first = await replay(id, { idempotencyKey: "fix-1" });
    const again = await replay(id, { idempotencyKey: "fix-1" });
    expect(first.status).toBe(202);
    expect(again.body).toMatchObject({ taskId: first.body.taskId, idempotentReplay: true });
  });

  it("refuses bad overrides, unknown fields, another tenant's run and fromFailedStep on a task run", async () => {
    const id = await start({ definition: "nap" });
    await waitForEnd(stack, id);
    const badParams = await replay(id, { params: { ms: "soon" } });
    expect(badParams.status).toBe(400);
    expect(badParams.body.error).toBe("validation_failed");
    expect((await replay(id, { definition: "echo" })).status).toBe(400);
    expect((await replay(id, { fromFailedStep: true })).body).toMatchObject({ error: "validation_failed" });
    const foreign = await replay(id, {}, otherKey);
    expect(foreign.status).toBe(404);
    expect(foreign.body.message).not.toContain("nap");
    expect((await replay("no-such-run", {})).status).toBe(404);
  });

  it("replays a failed workflow from its failed step: succeeded steps keep their runs and outputs", async () => {
    await stack.request("PUT", "/v1/definitions/flaky", {
      body: { handler: "fail", params: { nonRetriable: true } },
    });
    await stack.request("PUT", "/v1/definitions/flow", {
      body: {
        kind: "workflow",
        steps: [
          { id: "fetch", definition: "echo", params: { rows: 12 } },
          { id: "load", definition: "flaky", dependsOn: ["fetch"], params: { rows: "@Step.fetch.rows@" } },
        ],
      },
    });
    const id = await start({ definition: "flow" });
    const failed = await waitForEnd(stack, id);
    expect(failed).toMatchObject({ status: "failed", error: { code: "step_failed" } });
    // Without fromFailedStep a workflow replays whole.
    const whole = await replay(id, { fromFailedStep: false });
    expect(
      (await waitForEnd(stack, whole.body.taskId)).steps.map((s: { taskId: string }) => s.taskId),
    ).toEqual([stepRunId(whole.body.taskId, "fetch"), stepRunId(whole.body.taskId, "load")]);

    // The bug is fixed: the step's definition no longer fails.
    await stack.request("PUT", "/v1/definitions/flaky", { body: { handler: "echo" } });
    const replayed = await replay(id, { fromFailedStep: true });
    expect(replayed.status).toBe(202);
    const run = await waitForEnd(stack, replayed.body.taskId);
    expect(run).toMatchObject({ status: "succeeded", replayOf: id });
    const [fetch, load] = run.steps;
    expect(fetch).toMatchObject({ id: "fetch", status: "succeeded", taskId: stepRunId(id, "fetch") });
    expect(load.taskId).toBe(stepRunId(run.taskId, "load"));
    expect(run.output).toEqual({ fetch: { greeting: "hello", rows: 12 }, load: { rows: 12 } });
    // The kept step did not run again.
    expect((await stack.request("GET", `/v1/tasks/${stepRunId(run.taskId, "fetch")}`)).status).toBe(404);

    const done = await replay(run.taskId, { fromFailedStep: true });
    expect(done.status).toBe(409);
    expect(done.body.message).toContain("only a failed one");
  });
});
