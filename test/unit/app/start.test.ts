/** Starting runs: what a start checks, writes and sends; idempotent starts; delayed starts; reading runs. */
import { describe, expect, it } from "vitest";
import { startDue, startDueRuns } from "../../../shared/app/engine.ts";
import { getTask, listTasks, startTask } from "../../../shared/app/tasks.ts";
import {
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  UnavailableError,
  ValidationError,
} from "../../../shared/core/errors.ts";
import { LIMITS } from "../../../shared/core/limits.ts";
import { appHarness, caller } from "../../support/memory-app.ts";

describe("startTask", () => {
  it("snapshots the definition's defaults under the start's params, queues the run and sends its message", async () => {
    const h = appHarness();
    await h.define("greet", {
      handler: "echo",
      params: { greeting: "hello", name: "nobody" },
      maxAttempts: 2,
    });
    const { run, created } = await startTask(h.svc, h.runner, {
      definition: "greet",
      params: { name: "Ada" },
    });
    expect(created).toBe(true);
    expect(run).toMatchObject({
      tenant: "acme",
      definition: "greet",
      handler: "echo",
      status: "queued",
      attempts: 0,
      maxAttempts: 2,
      params: { greeting: "hello", name: "Ada" },
      createdBy: h.runner.keyId,
    });
    expect(await h.run(run.id)).toEqual(run);
    expect(h.queue.pendingRunIds()).toEqual([run.id]);
    expect(h.metrics.total("RunsStarted")).toBe(1);
    // No tracing set up: no trace context is stored or sent (tracing costs nothing when off).
    expect(run.trace).toBeUndefined();
    expect(JSON.stringify(h.queue.pendingBodies())).not.toContain("trace");

    // A later change to the definition does not reach a run already started.
    await h.define("greet", { handler: "echo", params: { greeting: "bye" } });
    await h.drain();
    expect(await h.run(run.id)).toMatchObject({
      status: "succeeded",
      attempts: 1,
      output: { greeting: "hello", name: "Ada" },
    });
  });

  it("refuses an unknown definition, a handler this deployment lacks, bad and oversized params, and writes nothing", async () => {
    const h = appHarness();
    await expect(h.start({ definition: "nope" })).rejects.toMatchObject({ code: "unknown_definition" });
    // A definition stored by a deployment that had a handler this one does not register.
    await h.definitions.put({
      tenant: "acme",
      name: "gone",
      handler: "removed-handler",
      params: {},
      maxAttempts: 1,
      timeoutSeconds: 60,
      createdAt: "",
      updatedAt: "",
    });
    await expect(h.start({ definition: "gone" })).rejects.toBeInstanceOf(ValidationError);
    await h.define("file", { handler: "write-file" });
    await expect(h.start({ definition: "file", params: { name: "../escape" } })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await h.define("echo", { handler: "echo" });
    await expect(
      h.start({ definition: "echo", params: { blob: "x".repeat(LIMITS.paramsBytes) } }),
    ).rejects.toBeInstanceOf(PayloadTooLargeError);
    expect((await listTasks(h.svc, h.admin, {})).items).toEqual([]);
    expect(h.queue.size).toBe(0);
    expect(h.metrics.total("RunsStarted")).toBe(0);
  });

  it("starts only definitions of the caller's tenant", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" }, "globex");
    await expect(h.start({ definition: "echo" })).rejects.toMatchObject({ code: "unknown_definition" });
  });
});

describe("idempotent starts", () => {
  it("returns the same run for the same key and request, and starts nothing more", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    const input = { definition: "echo", params: { a: 1, b: 2 }, idempotencyKey: "order-7" };
    const first = await startTask(h.svc, h.runner, input);
    // The same params in another key order are the same request.
    const again = await startTask(h.svc, h.runner, { ...input, params: { b: 2, a: 1 } });
    expect(again).toMatchObject({ created: false, run: { id: first.run.id } });
    expect((await listTasks(h.svc, h.admin, {})).items).toHaveLength(1);
    expect(h.metrics.total("RunsStarted")).toBe(1);
    // The repeat sends the queued run's message once more (the fair queue does not deduplicate),
    // and only once however often the start is repeated; the run runs once.
    for (let i = 0; i < 5; i += 1) await startTask(h.svc, h.runner, input);
    expect(h.queue.size).toBe(2);
    await h.settle();
    expect(await getTask(h.svc, h.admin, first.run.id)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("sends a queued run's message again when a repeat finds the run but its message unsent", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    // The first start's send fails (as when its answer is lost after the run was written).
    const enqueue = h.queue.enqueue;
    h.queue.enqueue = async () => {
      throw new UnavailableError("the queue (SQS)");
    };
    const input = { definition: "echo", params: { n: 1 }, idempotencyKey: "lost" };
    const first = await startTask(h.svc, h.runner, input);
    h.queue.enqueue = enqueue;
    expect(h.queue.size).toBe(0);

    const again = await startTask(h.svc, h.runner, input);
    expect(again).toMatchObject({ created: false, run: { id: first.run.id } });
    expect(h.queue.size).toBe(1);
    await h.settle();
    expect((await getTask(h.svc, h.admin, first.run.id)).status).toBe("succeeded");
  });

  it("answers 409 when the key was used for a different start, and keys are per tenant", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    await h.define("echo", { handler: "echo" }, "globex");
    await h.start({ definition: "echo", params: { a: 1 }, idempotencyKey: "k" });
    await expect(
      h.start({ definition: "echo", params: { a: 2 }, idempotencyKey: "k" }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      h.start({ definition: "echo", params: { a: 1 }, idempotencyKey: "k", queue: "q" }),
    ).rejects.toBeInstanceOf(ConflictError);
    // Another tenant's use of the same key is its own.
    const other = await startTask(h.svc, caller("globex"), {
      definition: "echo",
      params: { a: 2 },
      idempotencyKey: "k",
    });
    expect(other.created).toBe(true);
  });

  it("lets a key be used again after 24 hours", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    const first = await h.start({ definition: "echo", idempotencyKey: "daily" });
    h.clock.advance(24 * 60 * 60 * 1000 - 1_000);
    expect((await startTask(h.svc, h.runner, { definition: "echo", idempotencyKey: "daily" })).run.id).toBe(
      first.id,
    );
    h.clock.advance(2_000);
    const second = await startTask(h.svc, h.runner, { definition: "echo", idempotencyKey: "daily" });
    expect(second.created).toBe(true);
    expect(second.run.id).not.toBe(first.id);
  });

  it("records no key for a start refused as queue_full", async () => {
    const h = appHarness();
    await h.define("one", { handler: "gated", maxConcurrency: 1, maxQueueLength: 0 });
    await h.start({ definition: "one" });
    await expect(h.start({ definition: "one", idempotencyKey: "k" })).rejects.toMatchObject({
      code: "queue_full",
    });
    expect(await h.runs.getIdempotency("acme", "k")).toBeUndefined();
  });
});

describe("delayed starts", () => {
  it("keeps a run scheduled, with a timer, until it is due; then admits it and it runs", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    const run = await h.start({ definition: "echo", after: 90_000 });
    expect(run).toMatchObject({ status: "scheduled", scheduledFor: "2026-01-01T00:01:30.000Z" });
    expect(h.timer.pending()).toEqual([
      { run: { tenant: "acme", id: run.id }, at: new Date("2026-01-01T00:01:30.000Z") },
    ]);
    expect(h.queue.size).toBe(0);

    h.clock.advance(30_000);
    expect(await startDue(h.svc, run)).toBe("not_due");
    expect(await startDueRuns(h.svc, h.clock.now())).toBe(0);

    const report = await h.settle();
    expect(report.timersFired).toBe(1);
    expect(await h.run(run.id)).toMatchObject({ status: "succeeded", startedAt: "2026-01-01T00:01:30.000Z" });
    // A timer firing twice starts it once.
    expect(await startDue(h.svc, run)).toBe("not_scheduled");
  });

  it("starts at once when `at` is already past, and refuses both `at` and `after`, or a start over a year ahead", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    expect(await h.start({ definition: "echo", at: "2025-12-31T23:00:00Z" })).toMatchObject({
      status: "queued",
    });
    expect(await h.start({ definition: "echo", at: "2026-01-02T00:00:00+02:00" })).toMatchObject({
      status: "scheduled",
      scheduledFor: "2026-01-01T22:00:00.000Z",
    });
    await expect(
      h.start({ definition: "echo", at: "2026-02-01T00:00:00Z", after: 5 }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(h.start({ definition: "echo", after: 366 * 24 * 60 * 60 * 1000 })).rejects.toBeInstanceOf(
      ValidationError,
    );
  });
});

describe("reading runs", () => {
  it("finds a run only in its own tenant, and lists newest first with filters and pages", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    await h.define("fail", { handler: "fail", maxAttempts: 1 });
    const ids: string[] = [];
    for (const definition of ["echo", "fail", "echo", "fail"]) {
      ids.push((await h.start({ definition })).id);
      h.clock.advance(1_000);
    }
    await h.drain();
    expect((await getTask(h.svc, h.admin, ids[0] ?? "")).status).toBe("succeeded");
    await expect(getTask(h.svc, caller("globex"), ids[0] ?? "")).rejects.toBeInstanceOf(NotFoundError);

    const all = await listTasks(h.svc, h.admin, { limit: 3 });
    expect(all.items.map((r) => r.id)).toEqual([ids[3], ids[2], ids[1]]);
    const rest = await listTasks(h.svc, h.admin, { limit: 3, cursor: all.cursor ?? "" });
    expect(rest.items.map((r) => r.id)).toEqual([ids[0]]);
    expect((await listTasks(h.svc, h.admin, { status: "failed" })).items.map((r) => r.id)).toEqual([
      ids[3],
      ids[1],
    ]);
    expect((await listTasks(h.svc, h.admin, { status: "succeeded", definition: "echo" })).items).toHaveLength(
      2,
    );
    expect((await listTasks(h.svc, caller("globex"), {})).items).toEqual([]);
  });
});
