/** One delivery at a time: claims, retries with backoff, duplicate deliveries, FIFO order, timeouts. */
import { Readable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { processDelivery } from "../../../shared/app/worker.ts";
import { BACKOFF } from "../../../shared/core/lifecycle.ts";
import { LIMITS } from "../../../shared/core/limits.ts";
import { defineTask } from "../../../shared/core/task.ts";
import { type AppHarness, appHarness } from "../../support/memory-app.ts";

const delivery = (tenant: string, runId: string) => ({
  messageId: `m-${runId}`,
  body: JSON.stringify({ v: 1, tenant, runId }),
  receipt: { lane: "fair", handle: `rh-${runId}` } as const,
});

describe("processDelivery", () => {
  it("runs the handler once for a run, records output and times, and acknowledges the message", async () => {
    const h = appHarness();
    await h.define("counted", { handler: "counted" });
    const run = await h.start({ definition: "counted", params: { x: 1 } });
    h.clock.advance(250);
    expect(await processDelivery(h.svc, delivery("acme", run.id))).toEqual({ kind: "done" });
    expect(await h.run(run.id)).toMatchObject({
      status: "succeeded",
      attempts: 1,
      output: { x: 1 },
      startedAt: "2026-01-01T00:00:00.250Z",
      endedAt: "2026-01-01T00:00:00.250Z",
    });
    expect((await h.run(run.id)).leaseUntil).toBeUndefined();
    expect((await h.run(run.id)).sweepAt).toBeUndefined();
    // A duplicate delivery of a finished run changes nothing and runs nothing.
    expect(await processDelivery(h.svc, delivery("acme", run.id))).toEqual({ kind: "done" });
    expect(h.invocations.get(run.id)).toBe(1);
    expect(h.metrics.total("RunsSucceeded")).toBe(1);
    expect(h.metrics.total("QueueWait")).toBe(250);
  });

  it("never runs the handler twice while a live worker holds the run, and keeps the message until its lease ends", async () => {
    const h = appHarness({ leaseSeconds: 30 });
    await h.define("gated", { handler: "gated" });
    const run = await h.start({ definition: "gated" });
    const first = processDelivery(h.svc, delivery("acme", run.id));
    await h.gates.arrived(run.id);
    h.clock.advance(10_000);
    expect(await processDelivery(h.svc, delivery("acme", run.id))).toEqual({ kind: "later", seconds: 20 });
    h.gates.open(run.id);
    expect(await first).toEqual({ kind: "done" });
    expect(h.invocations.get(run.id)).toBe(1);
  });

  it("drops an unreadable message, and acknowledges one for a run that does not exist", async () => {
    const h = appHarness();
    expect(
      await processDelivery(h.svc, { messageId: "m", body: "{nope", receipt: { lane: "fair", handle: "r" } }),
    ).toEqual({
      kind: "done",
    });
    expect(h.errors()).toEqual(["dropping unreadable run message"]);
    expect(await processDelivery(h.svc, delivery("acme", "missing"))).toEqual({ kind: "done" });
  });

  it("retries a failing handler after an exponential backoff with jitter, and keeps ctx.once results across attempts", async () => {
    const h = appHarness({ random: () => 0.5 });
    await h.define("flaky", { handler: "flaky", maxAttempts: 3 });
    const run = await h.start({ definition: "flaky", params: { failures: 2 } });

    // Attempt 1 fails: back in the queue for half the first window plus half of the jitter half.
    const firstWindow = BACKOFF.baseMs;
    const firstWait = firstWindow / 2 + 0.5 * (firstWindow / 2);
    expect(await processDelivery(h.svc, delivery("acme", run.id))).toEqual({
      kind: "later",
      seconds: Math.ceil(firstWait / 1000),
    });
    expect(await h.run(run.id)).toMatchObject({
      status: "queued",
      attempts: 1,
      nextAttemptAt: new Date(Date.parse(run.createdAt) + firstWait).toISOString(),
      error: { code: "handler_error", message: "failure on attempt 1" },
    });
    // Not before its backoff is over.
    expect(await processDelivery(h.svc, delivery("acme", run.id))).toMatchObject({ kind: "later" });
    expect(h.invocations.get(run.id)).toBe(1);

    h.clock.advance(firstWait);
    const secondWait = (2 * BACKOFF.baseMs) / 2 + 0.5 * ((2 * BACKOFF.baseMs) / 2);
    expect(await processDelivery(h.svc, delivery("acme", run.id))).toEqual({
      kind: "later",
      seconds: Math.ceil(secondWait / 1000),
    });
    h.clock.advance(secondWait);
    expect(await processDelivery(h.svc, delivery("acme", run.id))).toEqual({ kind: "done" });
    const done = await h.run(run.id);
    expect(done).toMatchObject({
      status: "succeeded",
      attempts: 3,
      output: { succeededOnAttempt: 3 },
      once: { "side-effect": { attempt: 1, result: { firstAttempt: 1 } } },
    });
    expect(done.error).toBeUndefined();
    expect(h.metrics.total("RunsStarted")).toBe(1);
    expect(h.metrics.total("RunsSucceeded")).toBe(1);
    expect(h.metrics.total("RunsFailed")).toBe(0);
  });

  it("fails a run when its attempts are used up, and at once on a non-retriable error", async () => {
    const h = appHarness();
    await h.define("fail", { handler: "fail", maxAttempts: 2 });
    const retried = await h.start({ definition: "fail" });
    const fatal = await h.start({
      definition: "fail",
      params: { nonRetriable: true, message: "no such customer" },
    });
    await h.settle();
    expect(await h.run(retried.id)).toMatchObject({
      status: "failed",
      attempts: 2,
      error: { code: "handler_error", message: "fail on attempt 2" },
    });
    expect(await h.run(fatal.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { code: "non_retriable", message: "no such customer" },
    });
    expect((await h.run(fatal.id)).logs.map((l) => l.line)).toEqual(["no such customer"]);
    expect(h.metrics.total("RunsFailed")).toBe(2);
  });

  it("fails without retrying on params the handler rejects, and on output that is too large", async () => {
    const big = defineTask({
      handler: "big-output",
      run: async () => ({ blob: "x".repeat(LIMITS.outputBytes) }),
    });
    const h = appHarness({ handlers: [big] });
    await h.define("big", { handler: "big-output", maxAttempts: 3 });
    await h.define("file", { handler: "write-file", maxAttempts: 3 });
    const large = await h.start({ definition: "big" });
    // Stored params that no longer match the handler's schema (the params were valid when it started).
    const file = await h.start({ definition: "file" });
    const stored = await h.run(file.id);
    await h.runs.create({ ...stored, id: "bad-params", params: { name: "../x" } });
    await h.queue.enqueue({ tenant: "acme", runId: "bad-params" });
    await h.drain();
    expect(await h.run(large.id)).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { code: "output_too_large" },
    });
    expect(await h.run("bad-params")).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { code: "invalid_params" },
    });
  });

  it("stores a handler's file and names it in the output", async () => {
    const h = appHarness();
    await h.define("file", { handler: "write-file" });
    const run = await h.start({ definition: "file", params: { name: "report.txt", text: "a\nb\n" } });
    await h.drain();
    expect(await h.run(run.id)).toMatchObject({
      status: "succeeded",
      output: { lines: 2, FileName: "report.txt", FileKey: `acme/${run.id}/report.txt`, FileSize: 4 },
    });
    expect(h.files.read(`acme/${run.id}/report.txt`)?.body.toString()).toBe("a\nb\n");
  });
});

describe("the run queue's order", () => {
  it("runs the runs of one named queue one at a time, in start order; other runs run alongside", async () => {
    const h = appHarness();
    await h.define("gated", { handler: "gated" });
    const a = await h.start({ definition: "gated", queue: "nightly" });
    const b = await h.start({ definition: "gated", queue: "nightly" });
    const free = await h.start({ definition: "gated" });
    const draining = h.drain();
    await h.gates.arrived(a.id);
    await h.gates.arrived(free.id);
    expect((await h.run(b.id)).status).toBe("queued");
    expect(h.invocations.get(b.id)).toBeUndefined();
    h.gates.open(free.id);
    h.gates.open(a.id);
    await h.gates.arrived(b.id);
    expect((await h.run(a.id)).status).toBe("succeeded");
    h.gates.open(b.id);
    await draining;
    expect((await h.run(b.id)).status).toBe("succeeded");
  });

  it("holds a named queue behind a run waiting for its retry", async () => {
    const h = appHarness({ random: () => 0 });
    await h.define("flaky", { handler: "flaky", maxAttempts: 2 });
    await h.define("counted", { handler: "counted" });
    const first = await h.start({ definition: "flaky", queue: "q", params: { failures: 1 } });
    const second = await h.start({ definition: "counted", queue: "q" });
    await h.drain();
    expect((await h.run(first.id)).status).toBe("queued");
    expect((await h.run(second.id)).status).toBe("queued");
    await h.settle();
    const [one, two] = [await h.run(first.id), await h.run(second.id)];
    expect([one.status, two.status]).toEqual(["succeeded", "succeeded"]);
    expect(Date.parse(two.startedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(one.endedAt ?? ""));
  });
});

describe("timeouts", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Time passing for the worker: its clock and its timers move together. */
  async function passTime(h: AppHarness, ms: number): Promise<void> {
    h.clock.advance(ms);
    await vi.advanceTimersByTimeAsync(ms);
  }

  it("ends an attempt that runs past timeoutSeconds as timed_out, frees its slot, and starts the next waiting run", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const h = appHarness();
    await h.define("slow", { handler: "gated", timeoutSeconds: 5, maxConcurrency: 1, maxAttempts: 3 });
    const slow = await h.start({ definition: "slow" });
    const next = await h.start({ definition: "slow" });
    const draining = h.drain();
    await h.gates.arrived(slow.id);
    await passTime(h, 4_999);
    expect((await h.run(slow.id)).status).toBe("running");
    await passTime(h, 1);
    await h.gates.arrived(next.id);
    expect(await h.run(slow.id)).toMatchObject({
      status: "timed_out",
      attempts: 1,
      error: { code: "timed_out" },
    });
    h.gates.open(next.id);
    // The timed-out handler finishing late changes nothing.
    h.gates.open(slow.id);
    await draining;
    expect((await h.run(next.id)).status).toBe("succeeded");
    expect((await h.run(slow.id)).status).toBe("timed_out");
    expect(h.metrics.total("RunsTimedOut")).toBe(1);
    // Its attempt is recorded in the same write that handed its slot on, without a stack (the handler threw nothing).
    const [record, ...others] = await h.runs.attemptRecords(slow);
    expect(others).toEqual([]);
    expect(record).toMatchObject({ attempt: 1, outcome: "timed_out", error: { code: "timed_out" } });
    expect(record?.error.stack).toBeUndefined();
    expect(record?.startedAt).toBeDefined();
  });

  /** A run of a 5 s timeout inside its handler, on fake timers; `finish` lets it and the worker go. */
  async function heldFiveSecondRun() {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const h = appHarness();
    await h.define("slow", { handler: "gated", timeoutSeconds: 5 });
    const slow = await h.start({ definition: "slow" });
    const draining = h.drain();
    await h.gates.arrived(slow.id);
    const finish = async () => {
      h.gates.open(slow.id);
      await draining;
    };
    return { h, slow, finish };
  }

  it("a timer that fires before the clock reads the deadline waits for it: no run ends timed_out early", async () => {
    // Node's timers keep their own millisecond time, which can run ahead of the wall clock.
    const { h, slow, finish } = await heldFiveSecondRun();
    h.clock.advance(4_998);
    await vi.advanceTimersByTimeAsync(5_000);
    expect((await h.run(slow.id)).status).toBe("running");
    await passTime(h, 2);
    const ended = await h.run(slow.id);
    expect(ended.status).toBe("timed_out");
    expect(Date.parse(ended.endedAt ?? "") - Date.parse(ended.startedAt ?? "")).toBe(5_000);
    await finish();
  });

  it("a clock stepped back more than a second does not hold an attempt past its timeout", async () => {
    const { h, slow, finish } = await heldFiveSecondRun();
    h.clock.advance(3_000); // the wall clock shows 2 s less than the timers measured
    await vi.advanceTimersByTimeAsync(5_000);
    expect((await h.run(slow.id)).status).toBe("timed_out");
    await finish();
  });

  it("a timed-out handler that goes on cannot write a file: one started before the timeout is aborted, one after is refused", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    const outcomes: string[] = [];
    let endBody: (() => void) | undefined;
    let handlerReturned: () => void = () => undefined;
    const returned = new Promise<void>((resolve) => {
      handlerReturned = resolve;
    });
    const lateWriter = defineTask({
      handler: "late-writer",
      async run(ctx) {
        // A body that is still streaming when the attempt times out.
        async function* slowBody() {
          yield Buffer.from("first half, ");
          await new Promise<void>((resolve) => {
            endBody = resolve;
          });
          yield Buffer.from("second half");
        }
        const streaming = ctx.files.put("report.txt", Readable.from(slowBody()));
        await Promise.allSettled([streaming, h.gates.enter(ctx.taskId, ctx.attempt)]);
        for (const put of [streaming, ctx.files.put("report.txt", "written after the timeout")]) {
          await put.then(
            () => outcomes.push("written"),
            (error: unknown) => outcomes.push((error as Error).name),
          );
        }
        handlerReturned();
        return null;
      },
    });
    const h = appHarness({ handlers: [lateWriter] });
    await h.define("late", { handler: "late-writer", timeoutSeconds: 5 });
    const late = await h.start({ definition: "late" });
    const draining = h.drain();
    await h.gates.arrived(late.id);
    await passTime(h, 5_000);
    expect((await h.run(late.id)).status).toBe("timed_out");
    endBody?.();
    h.gates.open(late.id);
    await draining;
    // The worker has moved on; the abandoned handler goes on by itself.
    await returned;
    expect(outcomes).toEqual(["TimeoutError", "TimeoutError"]);
    expect(h.files.read(`acme/${late.id}/report.txt`)).toBeUndefined();
  });
});
