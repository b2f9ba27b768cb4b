/** What the run page and the list's counts read: replays listed under their original, and counts by status and definition. */
import { describe, expect, it } from "vitest";
import { replayTask } from "../../../shared/app/replay.ts";
import { countTasks } from "../../../shared/app/task-counts.ts";
import { cancelTask, cancelTaskTree, startedByTask } from "../../../shared/app/tasks.ts";
import { ValidationError } from "../../../shared/core/errors.ts";
import { appHarness } from "../../support/memory-app.ts";

describe("the run page's links and the list's counts", () => {
  it("lists a replay among what its original started, but a tree cancel of the original leaves it alone", async () => {
    const h = appHarness();
    await h.define("gate", { handler: "gated" });
    const original = await h.start({ definition: "gate" });
    await cancelTask(h.svc, h.runner, original.id);
    const { run: replay } = await replayTask(h.svc, h.runner, original.id, {});
    const started = await startedByTask(h.svc, h.runner, original.id, {});
    expect(started.items.map((item) => [item.id, item.trigger, item.via])).toEqual([
      [replay.id, "replay", "replay"],
    ]);
    const tree = await cancelTaskTree(h.svc, h.runner, original.id);
    expect(tree.cancelled).toEqual([]);
    expect((await h.run(replay.id)).status).toBe("queued");
    // Another tenant cannot list them.
    await expect(startedByTask(h.svc, { ...h.runner, tenant: "globex" }, original.id, {})).rejects.toThrow(
      /does not exist/,
    );
  });

  it("counts the runs created since a time by status (succeeded being the rest) and by definition", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    await h.define("fail", { handler: "fail", maxAttempts: 1 });
    await h.define("gate", { handler: "gated" });
    for (let i = 0; i < 3; i += 1) await h.start({ definition: "echo" });
    await h.start({ definition: "fail" });
    await h.settle();
    await h.start({ definition: "gate" });
    const counts = await countTasks(h.svc, h.runner, {});
    const none = { scheduled: 0, waiting: 0, queued: 0, running: 0, awaiting: 0 };
    const ended = { succeeded: 0, failed: 0, cancelled: 0, timed_out: 0 };
    expect(counts).toEqual({
      since: new Date(h.clock.now().getTime() - 24 * 3_600_000).toISOString(),
      total: 5,
      byStatus: { ...none, ...ended, queued: 1, succeeded: 3, failed: 1 },
      byDefinition: [
        {
          definition: "echo",
          total: 3,
          byStatus: { ...none, ...ended, succeeded: 3 },
        },
        {
          definition: "fail",
          total: 1,
          byStatus: { ...none, ...ended, failed: 1 },
        },
        {
          definition: "gate",
          total: 1,
          byStatus: { ...none, ...ended, queued: 1 },
        },
      ],
      complete: true,
    });
    // Only the caller's tenant, and only since the time asked for.
    expect((await countTasks(h.svc, { ...h.runner, tenant: "globex" }, {})).total).toBe(0);
    h.clock.advance(60_000);
    expect((await countTasks(h.svc, h.runner, { since: h.clock.now().toISOString() })).total).toBe(0);
    await expect(countTasks(h.svc, h.runner, { since: "yesterday" })).rejects.toBeInstanceOf(ValidationError);
    await expect(countTasks(h.svc, h.runner, { since: "2020-01-01T00:00:00Z" })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});
