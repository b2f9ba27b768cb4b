/**
 * A workflow's started list: its steps, read by their derived ids (a step run writes no byOrigin
 * entry), in step order, then the index's entries (its replays), paged across both.
 */
import { describe, expect, it } from "vitest";
import { replayTask } from "../../../shared/app/replay.ts";
import { cancelTaskTree, startedByTask, startedEntryOf } from "../../../shared/app/tasks.ts";
import type { Run } from "../../../shared/core/run.ts";
import { stepRunId } from "../../../shared/core/workflow.ts";
import { appHarness } from "../../support/memory-app.ts";

/** A workflow "flow" of two steps in a row, each running `handler` (a test handler). */
async function twoStepFlow(handler: "counted" | "gated" = "counted") {
  const h = appHarness();
  await h.define("step", { handler });
  await h.define("flow", {
    kind: "workflow",
    steps: [
      { id: "first", definition: "step" },
      { id: "second", definition: "step", dependsOn: ["first"] },
    ],
  });
  return h;
}

/**
 * The index as an older release left it: before steps stopped writing byOrigin entries, it held
 * the workflow's steps too, ahead of anything else it started.
 */
function indexStepsAsBefore(h: Awaited<ReturnType<typeof twoStepFlow>>, flow: Run) {
  const indexed = h.svc.runs.startedBy.bind(h.svc.runs);
  h.svc.runs.startedBy = async (origin, page) => {
    const live = await indexed(origin, page);
    if (origin.id !== flow.id || page.cursor !== undefined) return live;
    const steps = await Promise.all(["first", "second"].map((id) => h.run(stepRunId(flow.id, id))));
    return { ...live, items: [...steps.map(startedEntryOf), ...live.items].slice(0, page.limit) };
  };
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

  it("a page that ends on the last step has no cursor when the workflow started nothing else", async () => {
    const h = await twoStepFlow();
    const flow = await h.start({ definition: "flow" });
    await h.settle();
    const listed = await startedByTask(h.svc, h.runner, flow.id, { limit: 2 });
    expect(listed.items.map((child) => child.id)).toEqual([
      stepRunId(flow.id, "first"),
      stepRunId(flow.id, "second"),
    ]);
    expect(listed.cursor).toBeUndefined();
    // With a replay in the index, the same page leads on to it.
    const replay = await replayTask(h.svc, h.runner, flow.id, {});
    const first = await startedByTask(h.svc, h.runner, flow.id, { limit: 2 });
    expect(first.cursor).toBe("steps.2");
    const rest = await startedByTask(h.svc, h.runner, flow.id, { limit: 2, cursor: first.cursor });
    expect(rest.items.map((child) => child.id)).toEqual([replay.run.id]);
  });

  it("lists a step an older release indexed once, from its derived id", async () => {
    const h = await twoStepFlow();
    const flow = await h.start({ definition: "flow" });
    await h.settle();
    const replay = await replayTask(h.svc, h.runner, flow.id, {});
    indexStepsAsBefore(h, flow);
    const listed = await startedByTask(h.svc, h.runner, flow.id, {});
    expect(listed.items.map((child) => child.id)).toEqual([
      stepRunId(flow.id, "first"),
      stepRunId(flow.id, "second"),
      replay.run.id,
    ]);
  });

  it("a page ending on the last step has no cursor when the index holds only steps an older release indexed", async () => {
    const h = await twoStepFlow();
    const flow = await h.start({ definition: "flow" });
    await h.settle();
    indexStepsAsBefore(h, flow);
    const listed = await startedByTask(h.svc, h.runner, flow.id, { limit: 2 });
    expect(listed.items).toHaveLength(2);
    expect(listed.cursor).toBeUndefined();
  });

  it("a step not started yet is not listed; a tree cancel still reaches the running steps", async () => {
    const h = await twoStepFlow("gated");
    const flow = await h.start({ definition: "flow" });
    const listed = await startedByTask(h.svc, h.runner, flow.id, {});
    expect(listed.items.map((child) => child.id)).toEqual([stepRunId(flow.id, "first")]);
    // A page that ends where only steps not started yet follow has no cursor to an empty page.
    const one = await startedByTask(h.svc, h.runner, flow.id, { limit: 1 });
    expect(one.items.map((child) => child.id)).toEqual([stepRunId(flow.id, "first")]);
    expect(one.cursor).toBeUndefined();
    const tree = await cancelTaskTree(h.svc, h.runner, flow.id);
    expect(tree.run.status).toBe("cancelled");
    expect((await h.run(stepRunId(flow.id, "first"))).status).toBe("cancelled");
  });
});
