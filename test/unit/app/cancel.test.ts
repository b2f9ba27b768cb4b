/** Cancel in every state: what ends at once, what the worker stops, and what it gives back. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { applyCallback } from "../../../shared/app/callbacks.ts";
import { startDueRuns } from "../../../shared/app/engine.ts";
import { cancelTask } from "../../../shared/app/tasks.ts";
import { ConflictError, NotFoundError } from "../../../shared/core/errors.ts";
import { appHarness, caller } from "../../support/memory-app.ts";

describe("cancelTask", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("ends a scheduled run at once, removes its timer, and it never starts", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "counted" });
    const run = await h.start({ definition: "echo", after: 60_000 });
    expect(await cancelTask(h.svc, h.runner, run.id)).toMatchObject({ status: "cancelled" });
    expect(h.timer.pending()).toEqual([]);
    h.clock.advance(60_000);
    expect(await startDueRuns(h.svc, h.clock.now())).toBe(0);
    await h.settle();
    expect(await h.run(run.id)).toMatchObject({ status: "cancelled", endedAt: "2026-01-01T00:00:00.000Z" });
    expect(h.invocations.get(run.id)).toBeUndefined();
  });

  it("ends a queued run at once; its message is dropped when delivered and its slot goes to the next in line", async () => {
    const h = appHarness();
    await h.define("one", { handler: "counted", maxConcurrency: 1 });
    const queued = await h.start({ definition: "one" });
    const waiting = await h.start({ definition: "one" });
    expect(await cancelTask(h.svc, h.runner, queued.id)).toMatchObject({ status: "cancelled" });
    expect((await h.run(waiting.id)).status).toBe("queued");
    await h.drain();
    expect(h.invocations.get(queued.id)).toBeUndefined();
    expect((await h.run(waiting.id)).status).toBe("succeeded");
    expect(h.queue.size).toBe(0);
    expect(h.metrics.total("RunsCancelled")).toBe(1);
  });

  it("asks a running run to stop; its worker ends it cancelled at its next write, keeping the slot until then", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1 });
    const running = await h.start({ definition: "one", params: { checkpoint: true } });
    const waiting = await h.start({ definition: "one" });
    const draining = h.drain();
    await h.gates.arrived(running.id);
    const asked = await cancelTask(h.svc, h.runner, running.id);
    expect(asked).toMatchObject({ status: "running", cancelRequestedAt: "2026-01-01T00:00:00.000Z" });
    // Asking again is harmless.
    expect(await cancelTask(h.svc, h.runner, running.id)).toMatchObject({ status: "running" });
    expect((await h.run(waiting.id)).status).toBe("waiting");
    h.gates.open(running.id);
    await h.gates.arrived(waiting.id);
    expect(await h.run(running.id)).toMatchObject({ status: "cancelled", attempts: 1 });
    expect((await h.run(running.id)).once).toEqual({});
    h.gates.open(waiting.id);
    await draining;
    expect((await h.run(waiting.id)).status).toBe("succeeded");
  });

  it("stops a running run at its next heartbeat even if its handler never writes", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("gated", { handler: "gated" });
    const run = await h.start({ definition: "gated" });
    const draining = h.drain();
    await h.gates.arrived(run.id);
    await cancelTask(h.svc, h.runner, run.id);
    // A heartbeat every third of the lease.
    await vi.advanceTimersByTimeAsync(10_000);
    await draining;
    expect((await h.run(run.id)).status).toBe("cancelled");
  });

  it("ends a running run at once when its worker is gone (lease over), and frees its slot", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("one", { handler: "counted", maxConcurrency: 1 });
    const run = await h.start({ definition: "one" });
    // A worker claims it and dies.
    await h.svc.runs.claim(run, {
      now: h.clock.now().toISOString(),
      leaseUntil: new Date(h.clock.now().getTime() + 30_000).toISOString(),
    });
    h.clock.advance(31_000);
    expect(await cancelTask(h.svc, h.runner, run.id)).toMatchObject({ status: "cancelled" });
    expect(await h.counters.get("acme", "one")).toMatchObject({ running: 0, waiting: 0 });
  });

  it("ends an awaiting run, after which its callback is refused", async () => {
    const h = appHarness();
    await h.define("cb", { handler: "await-callback", mode: "callback" });
    const run = await h.start({ definition: "cb" });
    await h.drain();
    expect((await h.run(run.id)).status).toBe("awaiting");
    expect(await cancelTask(h.svc, h.runner, run.id)).toMatchObject({ status: "cancelled" });
    await expect(
      applyCallback(h.svc, { kind: "key", tenant: "acme" }, { taskId: run.id, status: "SUCCESS" }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it("answers 409 for a finished run and 404 for another tenant's", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    const run = await h.start({ definition: "echo" });
    await expect(cancelTask(h.svc, caller("globex"), run.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await h.run(run.id)).status).toBe("queued");
    await h.drain();
    await expect(cancelTask(h.svc, h.runner, run.id)).rejects.toBeInstanceOf(ConflictError);
    expect((await h.run(run.id)).status).toBe("succeeded");
  });
});
