/** The sweeper's repairs of what a crash between two writes leaves behind; running it again changes nothing. */
import { describe, expect, it } from "vitest";
import { COUNTERS_QUIET_MS, sweep } from "../../../shared/app/sweeper.ts";
import { cancelTask } from "../../../shared/app/tasks.ts";
import type { RunQueue } from "../../../shared/core/ports.ts";
import type { Run } from "../../../shared/core/run.ts";
import { type AppHarness, appHarness } from "../../support/memory-app.ts";

/** A worker claims the run and dies: nothing renews its lease or records an outcome. */
async function claimAndDie(h: AppHarness, run: Run) {
  const now = h.clock.now().getTime();
  const claim = await h.svc.runs.claim(run, {
    now: new Date(now).toISOString(),
    leaseUntil: new Date(now + h.svc.worker.leaseSeconds * 1000).toISOString(),
  });
  if (!claim.claimed) throw new Error("could not claim");
  // Its message is gone too (deleted, or the batch was acknowledged).
  for (const message of h.queue.receive()) h.queue.delete(message.receipt);
}

const nothing = {
  resent: 0,
  requeued: 0,
  ended: 0,
  countersRepaired: 0,
  promoted: 0,
  started: 0,
  bulksResent: 0,
};

describe("sweep", () => {
  it("resends a queued run whose message was never sent, and the run then runs once", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    const working = h.svc.queue;
    const down: RunQueue = {
      enqueue: async () => {
        throw new Error("SQS unavailable");
      },
      enqueueBulkPage: working.enqueueBulkPage.bind(working),
      setVisibility: working.setVisibility.bind(working),
    };
    h.svc.queue = down;
    const run = await h.start({ definition: "counted" });
    h.svc.queue = working;
    expect(h.queue.size).toBe(0);
    // Marked for the next sweep rather than its usual 15 minutes.
    expect((await h.run(run.id)).sweepAt).toBe(h.clock.now().toISOString());
    expect(await sweep(h.svc)).toEqual({ ...nothing, resent: 1 });
    expect(await sweep(h.svc)).toEqual(nothing);
    await h.drain();
    expect((await h.run(run.id)).status).toBe("succeeded");
    expect(h.invocations.get(run.id)).toBe(1);
  });

  it("resends a queued run's message after 15 minutes in case it was lost; a repeat runs nothing twice", async () => {
    const h = appHarness();
    // A limited run: an unlimited one is sent before it is written and has no sweep entry (below).
    await h.define("counted", { handler: "counted", maxConcurrency: 10 });
    const run = await h.start({ definition: "counted" });
    h.clock.advance(14 * 60_000);
    expect(await sweep(h.svc)).toEqual(nothing);
    h.clock.advance(60_000);
    expect((await sweep(h.svc)).resent).toBe(1);
    expect(h.queue.size).toBe(2);
    await h.drain();
    expect(h.invocations.get(run.id)).toBe(1);
    // Both messages may come in one batch (the fair queue runs a tenant's messages side by side):
    // the repeat then met a live claim and comes back once the lease is over, finding the run ended.
    h.clock.advance(h.svc.worker.leaseSeconds * 1000);
    await h.drain();
    expect(h.invocations.get(run.id)).toBe(1);
    expect(h.queue.size).toBe(0);
  });

  it("puts a run whose worker died back in the queue while attempts are left, and it runs again", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("counted", { handler: "counted", maxAttempts: 2, maxConcurrency: 10 });
    const run = await h.start({ definition: "counted" });
    await claimAndDie(h, run);
    h.clock.advance(16 * 60_000);
    expect(await sweep(h.svc)).toEqual({ ...nothing, requeued: 1 });
    expect(await h.run(run.id)).toMatchObject({
      status: "queued",
      attempts: 1,
      error: { code: "worker_lost" },
    });
    expect(await sweep(h.svc)).toEqual(nothing);
    await h.drain();
    expect(await h.run(run.id)).toMatchObject({ status: "succeeded", attempts: 2 });
    expect((await h.run(run.id)).error).toBeUndefined();
  });

  it("leaves a run with a live lease alone, and looks again after its lease", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("counted", { handler: "counted", maxConcurrency: 10 });
    const run = await h.start({ definition: "counted" });
    await claimAndDie(h, run);
    // Its lease was renewed just now by a live worker.
    const claimed = await h.run(run.id);
    h.clock.advance(16 * 60_000);
    const lease = new Date(h.clock.now().getTime() + 30_000).toISOString();
    await h.svc.runs.update(claimed, { status: "running", attempts: 1 }, { leaseUntil: lease });
    expect(await sweep(h.svc)).toEqual(nothing);
    expect(await h.run(run.id)).toMatchObject({
      status: "running",
      sweepAt: new Date(Date.parse(lease) + 2 * 60_000).toISOString(),
    });
  });

  it("ends a dead worker's run with no attempts left (failed, or timed_out past its deadline), freeing its slot for the next", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("one", { handler: "counted", maxConcurrency: 1, maxAttempts: 1, timeoutSeconds: 600 });
    const lost = await h.start({ definition: "one" });
    const waiting = await h.start({ definition: "one" });
    await claimAndDie(h, lost);
    h.clock.advance(60_000);
    // Its lease is over but not its deadline: the worker was lost.
    await h.svc.runs.update(
      await h.run(lost.id),
      { status: "running", attempts: 1 },
      {
        sweepAt: h.clock.now().toISOString(),
      },
    );
    expect(await sweep(h.svc)).toEqual({ ...nothing, ended: 1 });
    expect(await h.run(lost.id)).toMatchObject({ status: "failed", error: { code: "worker_lost" } });
    expect((await h.run(waiting.id)).status).toBe("queued");

    await claimAndDie(h, waiting);
    h.clock.advance(16 * 60_000);
    expect((await sweep(h.svc)).ended).toBe(1);
    expect(await h.run(waiting.id)).toMatchObject({ status: "timed_out", error: { code: "timed_out" } });
    expect(await h.counters.get("acme", "one")).toMatchObject({ running: 0, waiting: 0 });
  });

  it("ends a dead worker's run that was asked to cancel as cancelled", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("counted", { handler: "counted", maxAttempts: 3, maxConcurrency: 10 });
    const run = await h.start({ definition: "counted" });
    await claimAndDie(h, run);
    await cancelTask(h.svc, h.runner, run.id);
    h.clock.advance(16 * 60_000);
    expect((await sweep(h.svc)).ended).toBe(1);
    expect((await h.run(run.id)).status).toBe("cancelled");
  });

  it("sets counters that drifted from the runs back to what the runs say, once they are quiet, and fills freed slots", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1 });
    const holder = await h.start({ definition: "one" });
    const waiting = await h.start({ definition: "one" });
    // The holder ended without giving its slot back (a lost counter write), and an extra phantom slot.
    await h.svc.runs.update(
      holder,
      { status: "queued", attempts: 0 },
      {
        status: "cancelled",
        endedAt: h.clock.now().toISOString(),
        sweepAt: null,
      },
    );
    h.counters.apply("acme", { definition: "one", running: 1, at: h.clock.now().toISOString() });
    expect(await h.counters.get("acme", "one")).toMatchObject({ running: 2, waiting: 1 });

    h.clock.advance(COUNTERS_QUIET_MS - 1);
    expect((await sweep(h.svc)).countersRepaired).toBe(0);
    h.clock.advance(1);
    expect(await sweep(h.svc)).toEqual({ ...nothing, countersRepaired: 1, promoted: 1 });
    expect((await h.run(waiting.id)).status).toBe("queued");
    expect(await h.counters.get("acme", "one")).toMatchObject({ running: 1, waiting: 0 });
    h.clock.advance(COUNTERS_QUIET_MS);
    expect(await sweep(h.svc)).toEqual(nothing);
  });

  it("starts delayed starts whose timer never fired, once they are a minute overdue", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    const run = await h.start({ definition: "counted", after: 10_000 });
    await h.timer.cancelStart(run); // the timer is lost
    h.clock.advance(10_000);
    expect((await sweep(h.svc)).started).toBe(0);
    h.clock.advance(60_000);
    expect((await sweep(h.svc)).started).toBe(1);
    await h.drain();
    expect((await h.run(run.id)).status).toBe("succeeded");
  });
});
