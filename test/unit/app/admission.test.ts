/** Limits: maxConcurrency slots, the waiting line, maxQueueLength, promotion order, live limits. */
import { describe, expect, it } from "vitest";
import { promoteWaiting } from "../../../shared/app/admission.ts";
import { startDueRuns } from "../../../shared/app/engine.ts";
import { cancelTask, startTask } from "../../../shared/app/tasks.ts";
import { shardScope } from "../../../shared/core/admission-shards.ts";
import { QueueFullError } from "../../../shared/core/errors.ts";
import { isTerminal, type Run } from "../../../shared/core/run.ts";
import { type AppHarness, appHarness } from "../../support/memory-app.ts";

async function statuses(h: AppHarness, ids: string[]) {
  return Promise.all(ids.map(async (id) => (await h.run(id)).status));
}

async function counters(h: AppHarness, definition: string) {
  const c = await h.counters.get("acme", definition);
  return { running: c?.running, waiting: c?.waiting };
}

describe("maxConcurrency and the waiting line", () => {
  it("lets maxConcurrency runs hold a slot, makes the rest wait, and refuses past maxQueueLength writing nothing", async () => {
    const h = appHarness();
    await h.define("limited", { handler: "gated", maxConcurrency: 2, maxQueueLength: 2 });
    const runs = [];
    for (let i = 0; i < 4; i += 1) runs.push(await h.start({ definition: "limited" }));
    expect(runs.map((r) => r.status)).toEqual(["queued", "queued", "waiting", "waiting"]);
    expect(runs.map((r) => r.slot)).toEqual([true, true, undefined, undefined]);
    expect(await counters(h, "limited")).toEqual({ running: 2, waiting: 2 });

    const full = h.start({ definition: "limited" });
    await expect(full).rejects.toBeInstanceOf(QueueFullError);
    await expect(full).rejects.toMatchObject({ details: { maxQueueLength: 2, maxConcurrency: 2 } });
    expect(await counters(h, "limited")).toEqual({ running: 2, waiting: 2 });
    expect(await h.runs.countHolders("acme", "limited")).toEqual({ running: 2, waiting: 2 });
    // Only the queued runs have messages; waiting runs are sent when promoted.
    expect(h.queue.pendingRunIds()).toEqual([runs[0]?.id, runs[1]?.id]);
    expect(h.metrics.total("RunsStarted")).toBe(4);
  });

  it("promotes waiting runs in start order as slots free, and never runs more than maxConcurrency at once", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      ids.push((await h.start({ definition: "one", params: { n: i } })).id);
      h.clock.advance(10);
    }
    const order: string[] = [];
    // One drain, as a worker polling the queue: each end promotes the next, whose message it then receives.
    const draining = h.drain();
    for (const id of ids) {
      await h.gates.arrived(id);
      order.push(id);
      // While it runs, every other run still waits, or has ended.
      const others = await statuses(
        h,
        ids.filter((other) => other !== id),
      );
      expect(others.filter((s) => s === "running" || s === "queued")).toEqual([]);
      h.gates.open(id);
    }
    await draining;
    expect(order).toEqual(ids);
    expect(await statuses(h, ids)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(await counters(h, "one")).toEqual({ running: 0, waiting: 0 });
  });

  it("does not let a new start overtake runs already waiting when a slot frees", async () => {
    const h = appHarness();
    await h.define("one", { handler: "counted", maxConcurrency: 1 });
    const first = await h.start({ definition: "one" });
    const waiting = await h.start({ definition: "one" });
    // The slot frees without promoting anyone (as if the process died right after the end).
    await h.svc.runs.transition(
      first,
      { status: "queued", attempts: 0 },
      { status: "cancelled", endedAt: h.clock.now().toISOString(), sweepAt: null },
      [{ definition: "one", running: -1, at: h.clock.now().toISOString() }],
    );
    const late = await h.start({ definition: "one" });
    // The newcomer joins the line; the earlier waiting run gets the slot.
    expect(late.status).toBe("waiting");
    expect((await h.run(waiting.id)).status).toBe("queued");
    expect(await counters(h, "one")).toEqual({ running: 1, waiting: 1 });
  });

  it("keeps the slot through a retry's backoff, and frees it when the run ends", async () => {
    const h = appHarness();
    await h.define("one", { handler: "flaky", maxConcurrency: 1, maxAttempts: 3 });
    const flaky = await h.start({ definition: "one", params: { failures: 1 } });
    const next = await h.start({ definition: "one", params: { failures: 0 } });
    await h.drain();
    expect(await h.run(flaky.id)).toMatchObject({ status: "queued", attempts: 1, slot: true });
    expect((await h.run(next.id)).status).toBe("waiting");
    await h.settle();
    expect(await statuses(h, [flaky.id, next.id])).toEqual(["succeeded", "succeeded"]);
    expect(await counters(h, "one")).toEqual({ running: 0, waiting: 0 });
  });

  it("applies raised limits at once: waiting runs take the new slots", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1 });
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await h.start({ definition: "one" })).id);
    expect(await statuses(h, ids)).toEqual(["queued", "waiting", "waiting"]);
    await h.define("one", { handler: "gated", maxConcurrency: 3 });
    expect(await statuses(h, ids)).toEqual(["queued", "queued", "queued"]);
    expect(await counters(h, "one")).toEqual({ running: 3, waiting: 0 });
    // Promotions pick among the oldest waiting runs at random (so concurrent promoters do not collide).
    expect(h.queue.pendingRunIds().sort()).toEqual([...ids].sort());
  });

  it("hands a freed slot to the oldest waiting run in the ending write itself: one counters change, no second promotion", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1 });
    const holder = await h.start({ definition: "one" });
    h.clock.advance(10);
    const oldest = await h.start({ definition: "one" });
    h.clock.advance(10);
    const younger = await h.start({ definition: "one" });
    const before = await h.counters.get("acme", "one");
    const writes: string[] = [];
    for (const method of ["transition", "handOff"] as const) {
      const original = h.svc.runs[method].bind(h.svc.runs) as (...args: unknown[]) => Promise<unknown>;
      (h.svc.runs as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        writes.push(method);
        return original(...args);
      };
    }
    await cancelTask(h.svc, h.runner, holder.id);
    expect(writes).toEqual(["handOff"]);
    expect(await statuses(h, [holder.id, oldest.id, younger.id])).toEqual(["cancelled", "queued", "waiting"]);
    expect(await h.run(oldest.id)).toMatchObject({ slot: true });
    const after = await h.counters.get("acme", "one");
    expect(after).toMatchObject({ running: 1, waiting: 1, version: (before?.version ?? 0) + 1 });
    expect(h.queue.pendingRunIds()).toContain(oldest.id);
  });

  it("lets a lowered limit take the slot instead of handing it on", async () => {
    const h = appHarness();
    await h.define("two", { handler: "gated", maxConcurrency: 2 });
    const [a, b] = [await h.start({ definition: "two" }), await h.start({ definition: "two" })];
    const waiting = await h.start({ definition: "two" });
    await h.define("two", { handler: "gated", maxConcurrency: 1 });
    await cancelTask(h.svc, h.runner, a.id);
    // Two ran under the old limit; one end brings them down to the new one, and nobody is let in.
    expect(await statuses(h, [a.id, b.id, waiting.id])).toEqual(["cancelled", "queued", "waiting"]);
    expect(await counters(h, "two")).toEqual({ running: 1, waiting: 1 });
    await cancelTask(h.svc, h.runner, b.id);
    expect((await h.run(waiting.id)).status).toBe("queued");
    expect(await counters(h, "two")).toEqual({ running: 1, waiting: 0 });
  });

  it("gives a cancelled waiting run's place in line back", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1, maxQueueLength: 1 });
    await h.start({ definition: "one" });
    const waiting = await h.start({ definition: "one" });
    await expect(h.start({ definition: "one" })).rejects.toBeInstanceOf(QueueFullError);
    await cancelTask(h.svc, h.runner, waiting.id);
    expect(await counters(h, "one")).toEqual({ running: 1, waiting: 0 });
    expect((await h.start({ definition: "one" })).status).toBe("waiting");
  });
});

describe("delayed starts under limits", () => {
  it("applies the limits in force when the start falls due, and fails it queue_full if the line is full then", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1, maxQueueLength: 1 });
    const later = await h.start({ definition: "one", after: 60_000 });
    // Accepted while the line was empty; by the time it is due, the line is full.
    await h.start({ definition: "one" });
    await h.start({ definition: "one" });
    h.clock.advance(60_000);
    expect(await startDueRuns(h.svc, h.clock.now())).toBe(1);
    expect(await h.run(later.id)).toMatchObject({ status: "failed", error: { code: "queue_full" } });
    expect(await counters(h, "one")).toEqual({ running: 1, waiting: 1 });
    expect(h.metrics.total("RunsFailed")).toBe(1);
  });

  it("takes a free slot when due, or joins the line", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1 });
    const a = await h.start({ definition: "one", after: 1_000 });
    const b = await h.start({ definition: "one", after: 2_000 });
    h.clock.advance(2_000);
    await startDueRuns(h.svc, h.clock.now());
    expect(await statuses(h, [a.id, b.id])).toEqual(["queued", "waiting"]);
    expect((await h.run(a.id)).slot).toBe(true);
  });
});

describe("unlimited definitions", () => {
  it("keep no counters at all", async () => {
    const h = appHarness();
    await h.define("free", { handler: "echo" });
    for (let i = 0; i < 3; i += 1) await startTask(h.svc, h.runner, { definition: "free" });
    expect(await h.counters.get("acme", "free")).toBeUndefined();
    expect((await h.counters.list()).items).toEqual([]);
  });
});

describe("sharded counters", () => {
  async function shardCounts(h: AppHarness, definition: string, shards: number) {
    const runs = await Promise.all((await h.runs.list({ tenant: "acme", definition, limit: 100 })).items);
    return Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        const mine = runs.filter((r) => (r.shard ?? 0) === shard);
        const c = await h.counters.get("acme", shardScope(definition, shard));
        return {
          counters: { running: c?.running ?? 0, waiting: c?.waiting ?? 0 },
          runs: {
            running: mine.filter((r) => r.slot === true && !isTerminal(r.status)).length,
            waiting: mine.filter((r) => r.status === "waiting").length,
          },
        };
      }),
    );
  }

  it("splits maxConcurrency and maxQueueLength over shards that never pass them together, and runs every accepted run", async () => {
    const h = appHarness();
    h.svc.admission = { slotsPerShard: 1 };
    await h.define("wide", { handler: "counted", maxConcurrency: 4, maxQueueLength: 4 });
    const started: Run[] = [];
    for (let i = 0; i < 16; i += 1) {
      try {
        started.push(await h.start({ definition: "wide", params: { n: i } }));
      } catch (error) {
        if (!(error instanceof QueueFullError)) throw error;
      }
    }
    const shards = new Set((await Promise.all(started.map((r) => h.run(r.id)))).map((r) => r.shard ?? 0));
    expect(shards.size).toBeGreaterThan(1);
    // Each shard holds one slot and one place in line: 4 slots and 4 places in all.
    expect(started.length).toBeLessThanOrEqual(8);
    for (const shard of await shardCounts(h, "wide", 4)) {
      expect(shard.counters).toEqual(shard.runs);
      expect(shard.runs.running).toBeLessThanOrEqual(1);
      expect(shard.runs.waiting).toBeLessThanOrEqual(1);
    }
    await h.settle();
    expect(
      new Set(
        await statuses(
          h,
          started.map((r) => r.id),
        ),
      ),
    ).toEqual(new Set(["succeeded"]));
    for (const shard of await shardCounts(h, "wide", 4))
      expect(shard.counters).toEqual({ running: 0, waiting: 0 });
  });

  it("keeps its shard count while runs hold slots or wait, so a re-split never lets more than maxConcurrency in", async () => {
    const h = appHarness();
    h.svc.admission = { slotsPerShard: 1 };
    await h.define("wide", { handler: "counted", maxConcurrency: 2 });
    expect((await h.svc.definitions.get("acme", "wide"))?.counterShards).toBe(2);
    const ids: string[] = [];
    for (let i = 0; i < 8; i += 1) ids.push((await h.start({ definition: "wide", params: { n: i } })).id);
    // Raised while busy: 4 shards are wanted, the 2 in force stay (each now with 2 slots).
    await h.define("wide", { handler: "counted", maxConcurrency: 4 });
    expect((await h.svc.definitions.get("acme", "wide"))?.counterShards).toBe(2);
    const runs = await Promise.all(ids.map((id) => h.run(id)));
    expect(runs.filter((r) => r.slot === true).length).toBeLessThanOrEqual(4);
    expect(runs.every((r) => (r.shard ?? 0) < 2)).toBe(true);
    for (const shard of await shardCounts(h, "wide", 2)) expect(shard.counters).toEqual(shard.runs);
    await h.settle();
    expect(new Set(await statuses(h, ids))).toEqual(new Set(["succeeded"]));
    // Idle now: the next put takes the rule's count.
    await h.define("wide", { handler: "counted", maxConcurrency: 4 });
    expect((await h.svc.definitions.get("acme", "wide"))?.counterShards).toBe(4);
  });

  it("moves the line of a shard beyond the count in force into the live shards, and loses nobody", async () => {
    const h = appHarness();
    h.svc.admission = { slotsPerShard: 1 };
    await h.define("wide", { handler: "counted", maxConcurrency: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) ids.push((await h.start({ definition: "wide", params: { n: i } })).id);
    const before = await Promise.all(ids.map((id) => h.run(id)));
    expect(before.some((r) => r.status === "waiting" && (r.shard ?? 0) >= 2)).toBe(true);
    // Shards 2 and 3 are left beyond the count (as after a definition deleted and put again smaller).
    const definition = await h.svc.definitions.get("acme", "wide");
    if (definition === undefined) throw new Error("no definition");
    await h.svc.definitions.put({ ...definition, maxConcurrency: 2, counterShards: 2 });
    await promoteWaiting(h.svc, "acme", "wide#2");
    await promoteWaiting(h.svc, "acme", "wide#3");
    const after = await Promise.all(ids.map((id) => h.run(id)));
    expect(after.filter((r) => r.status === "waiting" && (r.shard ?? 0) >= 2)).toEqual([]);
    for (const shard of await shardCounts(h, "wide", 4)) expect(shard.counters).toEqual(shard.runs);
    await h.settle();
    expect(new Set(await statuses(h, ids))).toEqual(new Set(["succeeded"]));
    for (const shard of await shardCounts(h, "wide", 4))
      expect(shard.counters).toEqual({ running: 0, waiting: 0 });
  });
});
