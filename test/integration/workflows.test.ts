/** Workflows: steps with dependencies, through the real handlers on the emulators. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handedOutToken } from "../support/callback-token.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3 });
  for (const [name, body] of [
    ["echo", { handler: "echo" }],
    // Long enough that the two fan-out steps overlap, though started one after the other.
    ["timed", { handler: "timed", params: { ms: 1_500 } }],
    ["broken", { handler: "fail", params: { nonRetriable: true, message: "no data" } }],
    ["slow", { handler: "sleep", params: { ms: 30_000, steps: 300 } }],
    ["external", { handler: "await-callback", mode: "callback" }],
  ] as const) {
    await stack.request("PUT", `/v1/definitions/${name}`, { body });
  }
});
afterAll(async () => {
  await stack?.stop();
});

const putWorkflow = (name: string, steps: unknown[]) =>
  stack.request("PUT", `/v1/definitions/${name}`, { body: { kind: "workflow", steps } });
const start = async (definition: string, params: Record<string, unknown> = {}) =>
  (await stack.request("POST", "/v1/tasks", { body: { definition, params } })).body;
const get = async (id: string) => (await stack.request("GET", `/v1/tasks/${id}`)).body;

describe("workflows", () => {
  it("runs steps as their dependencies succeed, fanning out and in, with earlier outputs as params", async () => {
    const put = await putWorkflow("pipeline", [
      { id: "fetch", definition: "echo", params: { url: "https://data/2026.csv", rows: 120 } },
      { id: "left", definition: "timed", dependsOn: ["fetch"], params: { source: "@Step.fetch.url@" } },
      { id: "right", definition: "timed", dependsOn: ["fetch"] },
      {
        id: "report",
        definition: "echo",
        dependsOn: ["left", "right"],
        params: { rows: "@Step.fetch.rows@", title: "report of @Step.fetch.url@" },
      },
    ]);
    expect(put.status).toBe(201);
    expect(put.body).toMatchObject({ kind: "workflow", handler: "workflow" });
    const started = await start("pipeline");
    const workflow = await waitForEnd(stack, started.taskId);
    expect(workflow).toMatchObject({ status: "succeeded", kind: "workflow", progress: 1 });
    expect(workflow.steps.map((s: { status: string }) => s.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    expect(workflow.output.report).toEqual({ rows: 120, title: "report of https://data/2026.csv" });

    const [fetch, left, right, report] = await Promise.all(
      workflow.steps.map((s: { taskId: string }) => get(s.taskId)),
    );
    expect(left.params).toEqual({ ms: 1_500, source: "https://data/2026.csv" });
    expect(left.parent).toEqual({ taskId: started.taskId, step: "left" });
    expect(Date.parse(left.startedAt)).toBeGreaterThanOrEqual(Date.parse(fetch.endedAt));
    // Fan-out: left and right ran side by side; fan-in: report only after both.
    expect(left.output.start).toBeLessThan(right.output.end);
    expect(right.output.start).toBeLessThan(left.output.end);
    expect(Date.parse(report.createdAt)).toBeGreaterThanOrEqual(
      Math.max(left.output.end, right.output.end) - 5,
    );
  });

  it("fails on a FAILURE callback to step 1 of 3, and steps 2 and 3 never start", async () => {
    await putWorkflow("handover", [
      { id: "approve", definition: "external" },
      { id: "build", definition: "echo", dependsOn: ["approve"] },
      { id: "ship", definition: "echo", dependsOn: ["build"] },
    ]);
    const started = await start("handover");
    const approve = await waitFor(async () => {
      const workflow = await get(started.taskId);
      const step = await get(workflow.steps[0].taskId);
      return step.status === "awaiting" ? step : undefined;
    });
    const token = await waitFor(() => handedOutToken(approve.taskId));
    const answer = await stack.request("POST", "/v1/callbacks", {
      key: token,
      body: { taskId: approve.taskId, status: "FAILURE", subtext: "rejected by legal" },
    });
    expect(answer.body.status).toBe("failed");
    const workflow = await waitForEnd(stack, started.taskId);
    expect(workflow).toMatchObject({
      status: "failed",
      error: { code: "step_failed" },
      subtext: "rejected by legal",
    });
    expect(workflow.steps.map((s: { status: string }) => s.status)).toEqual([
      "failed",
      "cancelled",
      "cancelled",
    ]);
    for (const step of workflow.steps.slice(1)) {
      expect((await stack.request("GET", `/v1/tasks/${step.taskId}`)).status).toBe(404);
    }
  });

  it("takes the documented callback payload on a step: the step succeeds and its subtext reaches the workflow", async () => {
    await putWorkflow("signed", [
      { id: "sign", definition: "external" },
      {
        id: "archive",
        definition: "echo",
        dependsOn: ["sign"],
        params: { zip: "@Step.sign.zipFileLocation@" },
      },
    ]);
    const started = await start("signed");
    const sign = await waitFor(async () => {
      const step = await get((await get(started.taskId)).steps[0].taskId);
      return step.status === "awaiting" ? step : undefined;
    });
    const token = await waitFor(() => handedOutToken(sign.taskId));
    await stack.request("POST", "/v1/callbacks", {
      key: token,
      body: JSON.parse(
        `{"taskId": "${sign.taskId}", "logs": "line one\\nline two", "status": "SUCCESS", "output": {"zipFileLocation": "https://example.com/jpeg"}, "subtext": "Completed with 90/100 passing"}`,
      ),
    });
    const workflow = await waitForEnd(stack, started.taskId);
    expect(workflow).toMatchObject({ status: "succeeded", subtext: "Completed with 90/100 passing" });
    expect(workflow.output.archive).toEqual({ zip: "https://example.com/jpeg" });
  });

  it("fails when a step fails, and cancels the steps still running", async () => {
    await putWorkflow("partial", [
      { id: "long", definition: "slow" },
      { id: "bad", definition: "broken" },
      { id: "after", definition: "echo", dependsOn: ["long", "bad"] },
    ]);
    const started = await start("partial");
    const workflow = await waitForEnd(stack, started.taskId);
    expect(workflow).toMatchObject({
      status: "failed",
      error: { code: "step_failed", message: expect.stringMatching(/"bad"/) },
    });
    const long = await waitForEnd(stack, workflow.steps[0].taskId);
    expect(long.status).toBe("cancelled");
    expect((await stack.request("GET", `/v1/tasks/${workflow.steps[2].taskId}`)).status).toBe(404);
  });

  it("cancels its running steps when the workflow run is cancelled", async () => {
    await putWorkflow("abortable", [
      { id: "long", definition: "slow" },
      { id: "next", definition: "echo", dependsOn: ["long"] },
    ]);
    const started = await start("abortable");
    const longId = (await get(started.taskId)).steps[0].taskId;
    await waitFor(async () => ((await get(longId)).status === "running" ? true : undefined));
    // GET shows each step as it is now, not as it was when the workflow last moved.
    expect((await get(started.taskId)).steps.map((s: { status: string }) => s.status)).toEqual([
      "running",
      "pending",
    ]);
    const cancelled = await stack.request("POST", `/v1/tasks/${started.taskId}/cancel`);
    expect(cancelled.body.status).toBe("cancelled");
    expect((await waitForEnd(stack, longId)).status).toBe("cancelled");
    // The workflow run shows its steps as they end, even after it ended itself.
    const stepStatuses = async () =>
      (await get(started.taskId)).steps.map((s: { status: string }) => s.status).join();
    await waitFor(async () => ((await stepStatuses()) === "cancelled,cancelled" ? true : undefined));
  });

  it.each([
    [
      "a cycle",
      [
        { id: "a", definition: "echo", dependsOn: ["b"] },
        { id: "b", definition: "echo", dependsOn: ["a"] },
      ],
      /cycle/,
    ],
    ["an unknown dependency", [{ id: "a", definition: "echo", dependsOn: ["ghost"] }], /unknown step/],
    ["an unknown definition", [{ id: "a", definition: "nope" }], /does not exist/],
    ["a nested workflow", [{ id: "a", definition: "pipeline" }], /do not nest/],
    ["no steps", [], /at least one/],
  ])("refuses %s with 400", async (_what, steps, message) => {
    const response = await putWorkflow("invalid", steps);
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(message);
    expect((await stack.request("GET", "/v1/definitions/invalid")).status).toBe(404);
  });

  it("refuses a delayed start of a workflow rather than let it fail later", async () => {
    const response = await stack.request("POST", "/v1/tasks", {
      body: { definition: "pipeline", after: 1_000 },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/not supported yet/);
  });

  it("refuses a handler or task settings on a workflow", async () => {
    const withHandler = await stack.request("PUT", "/v1/definitions/w", {
      body: { kind: "workflow", handler: "echo", steps: [{ id: "a", definition: "echo" }] },
    });
    expect(withHandler.status).toBe(400);
    const withLimit = await stack.request("PUT", "/v1/definitions/w", {
      body: { kind: "workflow", maxConcurrency: 2, steps: [{ id: "a", definition: "echo" }] },
    });
    expect(withLimit.status).toBe(400);
  });
});
