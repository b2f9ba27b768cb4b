/** Workflows: steps run as their dependencies succeed, with earlier outputs as params; a failed step stops it. */
import { describe, expect, it } from "vitest";
import { setSubtext } from "../../../shared/app/callbacks.ts";
import { putDefinition } from "../../../shared/app/definitions.ts";
import { sweep } from "../../../shared/app/sweeper.ts";
import { cancelTask, getTask } from "../../../shared/app/tasks.ts";
import { processDelivery } from "../../../shared/app/worker.ts";
import { ValidationError } from "../../../shared/core/errors.ts";
import { stepRunId } from "../../../shared/core/workflow.ts";
import { type AppHarness, appHarness } from "../../support/memory-app.ts";

function fail(message: string): never {
  throw new Error(message);
}

async function diamond(h: AppHarness, join = "echo") {
  await h.define("echo", { handler: "echo" });
  await h.define("gated", { handler: "gated" });
  await h.define("fail", { handler: "fail", maxAttempts: 1 });
  await h.define("flow", {
    kind: "workflow",
    steps: [
      { id: "fetch", definition: "echo", params: { rows: 3 } },
      { id: "left", definition: "gated", dependsOn: ["fetch"] },
      { id: "right", definition: "echo", params: { rows: "@Step.fetch.rows@" }, dependsOn: ["fetch"] },
      {
        id: "join",
        definition: join,
        params: { total: "@Step.right.rows@ rows" },
        dependsOn: ["left", "right"],
      },
    ],
  });
}

describe("workflows", () => {
  it("fan out after a step succeeds, fan in when all its dependencies did, and succeed with every step's output", async () => {
    const h = appHarness();
    await diamond(h);
    const flow = await h.start({ definition: "flow" });
    expect(flow).toMatchObject({ kind: "workflow", status: "running" });
    const id = (step: string) => stepRunId(flow.id, step);
    expect((await h.run(id("fetch"))).status).toBe("queued");
    await expect(h.svc.runs.get({ tenant: "acme", id: id("left") })).resolves.toBeUndefined();

    const draining = h.drain();
    await h.gates.arrived(id("left"));
    // Read live from the steps ("right" runs alongside "left", in the same batch).
    expect((await getTask(h.svc, h.admin, flow.id)).stepStatus).toMatchObject({
      fetch: "succeeded",
      left: "running",
      join: "pending",
    });
    expect(await h.run(id("right"))).toMatchObject({
      params: { rows: 3 },
      parent: { id: flow.id, step: "right" },
    });
    h.gates.open(id("left"), { side: "left" });
    await draining;

    expect(await h.run(id("join"))).toMatchObject({ status: "succeeded", output: { total: "3 rows" } });
    expect(await h.run(flow.id)).toMatchObject({
      status: "succeeded",
      progress: 1,
      output: { fetch: { rows: 3 }, left: { side: "left" }, right: { rows: 3 }, join: { total: "3 rows" } },
    });
  });

  it("start with one write of the workflow run: its stored step statuses wait for a step's end, reads show them live", async () => {
    const h = appHarness();
    await diamond(h);
    const flow = await h.start({ definition: "flow" });
    // The start's answer shows the first step started, without reading the run back.
    expect(flow.stepStatus).toMatchObject({ fetch: "queued", join: "pending" });
    expect((await h.run(stepRunId(flow.id, "fetch"))).status).toBe("queued");
    // Only the create wrote it (issue #14: a workflow's start costs no second write).
    const stored = await h.run(flow.id);
    expect(stored.updatedAt).toBe(stored.createdAt);
    expect(stored.stepStatus).toMatchObject({ fetch: "pending", join: "pending" });
    expect((await getTask(h.svc, h.admin, flow.id)).stepStatus).toMatchObject({
      fetch: "queued",
      join: "pending",
    });
  });

  it("fail when a step fails; the steps after it never start, and running ones are cancelled", async () => {
    const h = appHarness();
    await diamond(h);
    await h.define("flow", {
      kind: "workflow",
      steps: [
        { id: "slow", definition: "gated", params: { checkpoint: true } },
        { id: "broken", definition: "fail" },
        { id: "after", definition: "echo", dependsOn: ["broken"] },
      ],
    });
    const flow = await h.start({ definition: "flow" });
    const id = (step: string) => stepRunId(flow.id, step);
    // Both first steps are queued; deliver them one by one, "slow" first so it is mid-attempt.
    const messages = new Map(h.queue.receive().map((m) => [JSON.parse(m.body).runId as string, m]));
    const slow = processDelivery(h.svc, messages.get(id("slow")) ?? fail("no message"));
    await h.gates.arrived(id("slow"));
    await processDelivery(h.svc, messages.get(id("broken")) ?? fail("no message"));
    expect(await h.run(flow.id)).toMatchObject({
      status: "failed",
      error: { code: "step_failed" },
      stepStatus: { broken: "failed", after: "cancelled" },
    });
    expect(await h.run(id("slow"))).toMatchObject({
      status: "running",
      cancelRequestedAt: expect.any(String),
    });
    await expect(h.svc.runs.get({ tenant: "acme", id: id("after") })).resolves.toBeUndefined();
    // The running step stops at its next write, and the workflow shows it.
    h.gates.open(id("slow"));
    await slow;
    expect((await h.run(id("slow"))).status).toBe("cancelled");
    expect((await h.run(flow.id)).stepStatus).toEqual({
      slow: "cancelled",
      broken: "failed",
      after: "cancelled",
    });
    await sweep(h.svc);
    await expect(h.svc.runs.get({ tenant: "acme", id: id("after") })).resolves.toBeUndefined();
  });

  it("cancel with its active steps, and start no more", async () => {
    const h = appHarness();
    await diamond(h);
    const flow = await h.start({ definition: "flow" });
    const id = (step: string) => stepRunId(flow.id, step);
    expect(await cancelTask(h.svc, h.runner, flow.id)).toMatchObject({ status: "cancelled" });
    expect((await h.run(id("fetch"))).status).toBe("cancelled");
    await h.drain();
    expect((await h.run(flow.id)).stepStatus).toEqual({
      fetch: "cancelled",
      left: "cancelled",
      right: "cancelled",
      join: "cancelled",
    });
    await expect(h.svc.runs.get({ tenant: "acme", id: id("left") })).resolves.toBeUndefined();
  });

  it("show a step's subtext as the workflow's own", async () => {
    const h = appHarness();
    await diamond(h);
    const flow = await h.start({ definition: "flow" });
    await setSubtext(h.svc, "acme", stepRunId(flow.id, "fetch"), "fetching page 2 of 9");
    expect((await h.run(flow.id)).subtext).toBe("fetching page 2 of 9");
  });

  it("are refused when a step names a missing definition or another workflow, or the steps form a cycle", async () => {
    const h = appHarness();
    await diamond(h);
    const put = (steps: unknown) =>
      putDefinition(h.svc, "acme", "bad", { kind: "workflow", steps: steps as never });
    await expect(put([{ id: "a", definition: "missing" }])).rejects.toBeInstanceOf(ValidationError);
    await expect(put([{ id: "a", definition: "flow" }])).rejects.toBeInstanceOf(ValidationError);
    await expect(
      put([
        { id: "a", definition: "echo", dependsOn: ["b"] },
        { id: "b", definition: "echo", dependsOn: ["a"] },
      ]),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(h.start({ definition: "flow", after: 1_000 })).rejects.toBeInstanceOf(ValidationError);
  });
});
