/**
 * A workflow's started list: its steps, read by their derived ids (a step run writes no byOrigin
 * entry), in step order, then the index's entries (its replays), paged across both.
 */
import { describe, expect, it } from "vitest";
import { replayTask } from "../../../shared/app/replay.ts";
import { cancelTaskTree, startedByTask } from "../../../shared/app/tasks.ts";
import { stepRunId } from "../../../shared/core/workflow.ts";
import { appHarness } from "../../support/memory-app.ts";

async function twoStepFlow() {
  const h = appHarness();
  await h.define("step", { handler: "counted" });
  await h.define("flow", {
    kind: "workflow",
    steps: [
      { id: "first", definition: "step" },
      { id: "second", definition: "step", dependsOn: ["first"] },
    ],
  });
  return h;
}

describe("what a workflow started", () => {
  it("lists its steps by their derived ids, which the byOrigin index no longer holds", async () => {
    const h = await twoStepFlow();
    const flow = await h.start({ definition: "flow" });
    await h.settle();
    const first = stepRunId(flow.id, "first");
    const second = stepRunId(flow.id, "second");
    // The index: no step (a write per step saved).
    expect((await h.svc.runs.startedBy(flow, { limit: 10 })).items).toEqual([]);
    const listed = await startedByTask(h.svc, h.runner, flow.id, {});
    expect(listed.items.map((child) => [child.id, child.via, child.trigger, child.definition])).toEqual([
      [first, "step:first", "workflow", "step"],
      [second, "step:second", "workflow", "step"],
    ]);
    expect(listed.cursor).toBeUndefined();
  });

  it("pages through the steps, then the index (a replay), one at a time", async () => {
    const h = await twoStepFlow();
    const flow = await h.start({ definition: "flow" });
    await h.settle();
    const replay = await replayTask(h.svc, h.runner, flow.id, {});
    const ids: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const listed = await startedByTask(h.svc, h.runner, flow.id, {
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      expect(listed.items.length).toBeLessThanOrEqual(1);
      ids.push(...listed.items.map((child) => child.id));
      cursor = listed.cursor;
      if (cursor === undefined) break;
    }
    expect(ids).toEqual([stepRunId(flow.id, "first"), stepRunId(flow.id, "second"), replay.run.id]);
  });

  it("a step not started yet is not listed; a tree cancel still reaches the running steps", async () => {
    const h = appHarness();
    await h.define("gate", { handler: "gated" });
    await h.define("flow", {
      kind: "workflow",
      steps: [
        { id: "first", definition: "gate" },
        { id: "second", definition: "gate", dependsOn: ["first"] },
      ],
    });
    const flow = await h.start({ definition: "flow" });
    const listed = await startedByTask(h.svc, h.runner, flow.id, {});
    expect(listed.items.map((child) => child.id)).toEqual([stepRunId(flow.id, "first")]);
    const tree = await cancelTaskTree(h.svc, h.runner, flow.id);
    expect(tree.run.status).toBe("cancelled");
    expect((await h.run(stepRunId(flow.id, "first"))).status).toBe("cancelled");
  });
});
