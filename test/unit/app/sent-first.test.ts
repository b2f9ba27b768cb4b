/**
 * An unlimited start sends its message before it writes its run (engine.ts, `startSentFirst`), so
 * the run has no sweep entry. What that must keep true: nothing is lost and nothing runs twice,
 * whichever of the two writes a crash or an early worker gets between.
 */
import { describe, expect, it } from "vitest";
import { startRun } from "../../../shared/app/engine.ts";
import { sweep } from "../../../shared/app/sweeper.ts";
import { ConflictError, UnavailableError } from "../../../shared/core/errors.ts";
import { ORPHAN_WAIT_MS, SENT_FIRST_SLOW_MS } from "../../../shared/core/lifecycle.ts";
import type { CreateResult, RunStore } from "../../../shared/core/ports.ts";
import type { Run } from "../../../shared/core/run.ts";
import { type AppHarness, appHarness } from "../../support/memory-app.ts";

/** Runs `before` each time the engine writes a run, just before the write. */
function beforeEachCreate(h: AppHarness, before: (run: Run) => Promise<void>): RunStore["create"] {
  const create = h.svc.runs.create.bind(h.svc.runs);
  h.svc.runs.create = async (run, extras): Promise<CreateResult> => {
    await before(run);
    return create(run, extras);
  };
  return create;
}

/** For each run write: whether the run's message was already in the queue. */
function recordSendOrder(h: AppHarness): boolean[] {
  const sentBeforeWrite: boolean[] = [];
  beforeEachCreate(h, async (run) => {
    sentBeforeWrite.push(h.queue.pendingRunIds().includes(run.id));
  });
  return sentBeforeWrite;
}

describe("a start sent before its run is written", () => {
  it("sends first, writes the run with no sweep entry, and the sweeper never looks at it", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    const sentBeforeWrite = recordSendOrder(h);
    const run = await h.start({ definition: "counted" });
    expect(sentBeforeWrite).toEqual([true]);
    expect((await h.run(run.id)).sweepAt).toBeUndefined();
    expect(h.queue.pendingBodies()).toEqual([
      expect.objectContaining({ runId: run.id, sentAt: h.clock.now().toISOString() }),
    ]);
    h.clock.advance(60 * 60_000);
    expect(await h.svc.runs.dueForSweep(h.clock.now().toISOString(), 10)).toEqual([]);
    await h.drain();
    expect(await h.run(run.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect((await h.run(run.id)).sweepAt).toBeUndefined();
  });

  it("a limited start still writes first, with its sweep entry", async () => {
    const h = appHarness();
    await h.define("limited", { handler: "counted", maxConcurrency: 2 });
    const sentBeforeWrite = recordSendOrder(h);
    const run = await h.start({ definition: "limited" });
    expect(sentBeforeWrite).toEqual([false]);
    expect((await h.run(run.id)).sweepAt).toBeDefined();
    expect(h.queue.pendingBodies()[0]?.sentAt).toBeUndefined();
  });

  it("a named queue's start still writes first: an orphan message would hold its FIFO group", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    const sentBeforeWrite = recordSendOrder(h);
    const run = await h.start({ definition: "counted", queue: "line" });
    expect(sentBeforeWrite).toEqual([false]);
    expect((await h.run(run.id)).sweepAt).toBeDefined();
    expect(h.queue.pendingBodies()[0]?.sentAt).toBeUndefined();
  });

  it("a worker that gets the message before the write waits for it, and the run runs once", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    // The worker takes the message while the write is still on its way, and finds no run.
    const create = beforeEachCreate(h, async () => {
      await h.drain();
    });
    const run = await h.start({ definition: "counted" });
    h.svc.runs.create = create;
    expect(h.invocations.get(run.id)).toBeUndefined();
    expect(h.queue.size).toBe(1);
    expect(await h.run(run.id)).toMatchObject({ status: "queued", attempts: 0 });
    // It comes back a second later and finds the run.
    h.clock.advance(1_000);
    await h.drain();
    expect(await h.run(run.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(h.invocations.get(run.id)).toBe(1);
    expect(h.queue.size).toBe(0);
  });

  it("a write that lands while the worker looks for it is picked up in the same delivery", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    let delivery: Promise<unknown> = Promise.resolve();
    beforeEachCreate(h, async () => {
      delivery = h.drain();
      await new Promise((resolve) => setTimeout(resolve, 30));
    });
    const run = await h.start({ definition: "counted" });
    await delivery;
    expect(await h.run(run.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(h.queue.size).toBe(0);
  });

  it("a write that fails leaves a message the worker drops once it is old, after a few receives", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    h.svc.runs.create = async () => {
      throw new UnavailableError("DynamoDB unavailable (injected)");
    };
    await expect(h.start({ definition: "counted" })).rejects.toThrow(UnavailableError);
    expect(h.queue.size).toBe(1);
    const started = h.clock.now().getTime();
    const report = await h.settle();
    expect(h.queue.size).toBe(0);
    expect(h.queue.deadLetters).toEqual([]);
    expect(h.clock.now().getTime() - started).toBeGreaterThanOrEqual(ORPHAN_WAIT_MS);
    expect(h.clock.now().getTime() - started).toBeLessThan(ORPHAN_WAIT_MS + 31_000);
    // Each time after as long as it has waited (at most 30 s): about ten receives, far below the 50 before the DLQ.
    expect(report.deliveries).toBeGreaterThan(3);
    expect(report.deliveries).toBeLessThanOrEqual(12);
    expect(h.invocations.size).toBe(0);
  });

  it("a write slower than the worker may wait marks the run for the sweeper, which sends it", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    const create = beforeEachCreate(h, async () => {
      h.clock.advance(SENT_FIRST_SLOW_MS + 1);
    });
    const run = await h.start({ definition: "counted" });
    h.svc.runs.create = create;
    expect((await h.run(run.id)).sweepAt).toBe(h.clock.now().toISOString());
    // Its first message is still there; drop it, as a worker that gave up on it would have.
    for (const message of h.queue.receive()) h.queue.delete(message.receipt);
    expect((await sweep(h.svc)).resent).toBe(1);
    await h.drain();
    expect(await h.run(run.id)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("a repeated start of a derived id sends a second message, which the claim absorbs: it runs once", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    const how = { trigger: "task" as const, id: "child-of-something" };
    await startRun(h.svc, h.runner, { definition: "counted" }, how);
    await expect(startRun(h.svc, h.runner, { definition: "counted" }, how)).rejects.toThrow(ConflictError);
    expect(h.queue.pendingRunIds()).toEqual([how.id, how.id]);
    await h.settle();
    expect(h.invocations.get(how.id)).toBe(1);
    expect(await h.run(how.id)).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(h.queue.size).toBe(0);
  });

  it("a lost worker's run is taken over when its message comes back, with no sweeper", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("counted", { handler: "counted", maxAttempts: 2 });
    const run = await h.start({ definition: "counted" });
    // A worker receives the message, claims the run and dies: the message stays in flight.
    const [message] = h.queue.receive();
    const now = h.clock.now().getTime();
    const claim = await h.svc.runs.claim(run, {
      now: new Date(now).toISOString(),
      leaseUntil: new Date(now + 30_000).toISOString(),
    });
    expect(claim.claimed).toBe(true);
    expect(message).toBeDefined();
    // Once its visibility (the lease, as the heartbeat keeps it) runs out, it is delivered again.
    await h.settle();
    expect(await h.run(run.id)).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(h.invocations.get(run.id)).toBe(1);
  });

  it("a lost worker's run with no attempts left ends worker_lost when its message comes back", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("counted", { handler: "counted", maxAttempts: 1 });
    const run = await h.start({ definition: "counted" });
    h.queue.receive();
    const now = h.clock.now().getTime();
    await h.svc.runs.claim(run, {
      now: new Date(now).toISOString(),
      leaseUntil: new Date(now + 30_000).toISOString(),
    });
    await h.settle();
    expect(await h.run(run.id)).toMatchObject({ status: "failed", error: { code: "worker_lost" } });
    expect(h.invocations.get(run.id)).toBeUndefined();
    expect(h.queue.size).toBe(0);
  });
});
