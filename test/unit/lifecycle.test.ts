import { describe, expect, it } from "vitest";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import { NonRetriableError, RetriableError } from "../../shared/core/errors.ts";
import {
  afterHandlerError,
  BACKOFF,
  backoffMs,
  endAbandoned,
  newRun,
  release,
  requeueAbandoned,
  succeededPatch,
  whenClaimMissed,
} from "../../shared/core/lifecycle.ts";
import { canTransition, isTerminal, RUN_STATUSES, RUN_TRANSITIONS, type Run } from "../../shared/core/run.ts";
import { reportDefinition } from "../support/fixtures.ts";

/** A fixed point in time: lifecycle functions take the clock as an argument. */
const NOW = new Date("2026-01-01T12:00:00.000Z");
const later = (ms: number) => new Date(NOW.getTime() + ms);

const definition = reportDefinition({
  params: { format: "pdf", pages: 1 },
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
});

function run(overrides: Partial<Run> = {}): Run {
  return {
    ...newRun({ tenant: "acme", id: "r1", definition, params: {}, createdBy: "k1" }, "queued", NOW),
    ...overrides,
  };
}

describe("newRun", () => {
  it("snapshots the definition's defaults with the start's params over them", () => {
    const created = newRun(
      { tenant: "acme", id: "r1", definition, params: { pages: 7 }, queue: "q", createdBy: "k1" },
      "queued",
      NOW,
    );
    expect(created).toMatchObject({
      status: "queued",
      attempts: 0,
      maxAttempts: 3,
      handler: "echo",
      queue: "q",
      params: { format: "pdf", pages: 7 },
      createdAt: NOW.toISOString(),
    });
    // The snapshot is a copy: changing the definition later cannot change the run.
    definition.params.format = "csv";
    expect(created.params.format).toBe("pdf");
    definition.params.format = "pdf";
  });
});

describe("transition table", () => {
  it("has no way out of a terminal status", () => {
    for (const status of RUN_STATUSES) expect(isTerminal(status)).toBe(RUN_TRANSITIONS[status].length === 0);
    expect(isTerminal("succeeded")).toBe(true);
    expect(isTerminal("failed")).toBe(true);
    expect(canTransition("succeeded", "running")).toBe(false);
    expect(canTransition("queued", "succeeded")).toBe(false);
    expect(canTransition("running", "queued")).toBe(true);
  });

  it("refuses to build a patch for an illegal move", () => {
    expect(() => succeededPatch(run({ status: "queued" }), {}, NOW)).toThrow(
      /illegal run transition queued → succeeded/,
    );
  });
});

describe("backoffMs", () => {
  it("doubles per attempt, with jitter in the upper half of the window, capped", () => {
    expect(backoffMs(1, () => 0)).toBe(BACKOFF.baseMs / 2);
    expect(backoffMs(1, () => 0.999999)).toBe(BACKOFF.baseMs);
    expect(backoffMs(3, () => 0)).toBe(2 * BACKOFF.baseMs);
    expect(backoffMs(40, () => 0.999999)).toBe(BACKOFF.maxMs);
  });
});

describe("afterHandlerError", () => {
  it("schedules a retry while attempts are left", () => {
    const decision = afterHandlerError(
      run({ status: "running", attempts: 1 }),
      new Error("boom"),
      NOW,
      () => 0,
    );
    expect(decision.retryInMs).toBe(500);
    expect(decision.patch).toMatchObject({
      status: "queued",
      nextAttemptAt: later(500).toISOString(),
      leaseUntil: null,
      error: { code: "handler_error", message: "boom" },
    });
  });

  it("fails the run on the last attempt", () => {
    const decision = afterHandlerError(
      run({ status: "running", attempts: 3 }),
      new Error("boom"),
      NOW,
      () => 0,
    );
    expect(decision.retryInMs).toBeUndefined();
    expect(decision.patch).toMatchObject({ status: "failed", endedAt: NOW.toISOString() });
  });

  it("fails at once on NonRetriableError", () => {
    const decision = afterHandlerError(
      run({ status: "running", attempts: 1 }),
      new NonRetriableError("bad customer"),
      NOW,
      () => 0,
    );
    expect(decision.retryInMs).toBeUndefined();
    expect(decision.patch).toMatchObject({
      status: "failed",
      error: { code: "non_retriable", message: "bad customer" },
    });
  });

  it("carries the code a NonRetriableError or RetriableError names, and retries only the latter", () => {
    const failed = afterHandlerError(
      run({ status: "running", attempts: 1 }),
      new NonRetriableError("login refused", { code: "destination_auth_failed" }),
      NOW,
      () => 0,
    );
    expect(failed.retryInMs).toBeUndefined();
    expect(failed.patch).toMatchObject({ status: "failed", error: { code: "destination_auth_failed" } });
    const retried = afterHandlerError(
      run({ status: "running", attempts: 1 }),
      new RetriableError("destination_unreachable", "no answer"),
      NOW,
      () => 0,
    );
    expect(retried.retryInMs).toBeGreaterThan(0);
    expect(retried.patch).toMatchObject({
      status: "queued",
      error: { code: "destination_unreachable", message: "no answer" },
    });
    // Any other error's `code` (a Node system error's, say) is not taken for a run error code.
    const system = Object.assign(new Error("connect ECONNREFUSED"), { code: "econnrefused" });
    expect(
      afterHandlerError(run({ status: "running", attempts: 1 }), system, NOW, () => 0).patch,
    ).toMatchObject({
      error: { code: "handler_error" },
    });
    expect(() => new NonRetriableError("x", { code: "Not Snake" })).toThrow(/snake_case/);
  });
});

describe("whenClaimMissed", () => {
  it("acks a message whose run is gone or finished", () => {
    expect(whenClaimMissed(undefined, NOW).kind).toBe("ack");
    expect(whenClaimMissed(run({ status: "succeeded" }), NOW).kind).toBe("ack");
    expect(whenClaimMissed(run({ status: "failed" }), NOW).kind).toBe("ack");
  });

  it("keeps a duplicate while a live worker holds the run, until its lease ends", () => {
    const miss = whenClaimMissed(
      run({ status: "running", attempts: 1, leaseUntil: later(7_500).toISOString() }),
      NOW,
    );
    expect(miss).toEqual({ kind: "later", seconds: 8, reason: "claimed by a live worker" });
  });

  it("waits out a retry's backoff", () => {
    const miss = whenClaimMissed(run({ status: "queued", nextAttemptAt: later(3_000).toISOString() }), NOW);
    expect(miss).toMatchObject({ kind: "later", seconds: 3 });
  });

  it("fails a run whose worker vanished on its last attempt, guarded by that exact lease", () => {
    const lease = later(-1).toISOString();
    const miss = whenClaimMissed(run({ status: "running", attempts: 3, leaseUntil: lease }), NOW);
    expect(miss).toMatchObject({
      kind: "give_up",
      guard: { status: "running", attempts: 3, leaseUntil: lease },
      patch: { status: "failed", error: { code: "worker_lost" } },
    });
  });
});

describe("admission in the lifecycle", () => {
  const limited: TaskDefinition = { ...definition, maxConcurrency: 2, maxQueueLength: 5 };
  const start = (status: "queued" | "waiting") =>
    newRun({ tenant: "acme", id: "r1", definition: limited, params: {}, createdBy: "k1" }, status, NOW);

  it("gives a limited run a slot when it goes straight to the queue, and none while it waits", () => {
    expect(start("queued")).toMatchObject({ slot: true, limits: { maxConcurrency: 2, maxQueueLength: 5 } });
    const waiting = start("waiting");
    expect(waiting.slot).toBeUndefined();
    expect(waiting.sweepAt).toBeUndefined();
    expect(run().slot).toBeUndefined(); // unlimited definitions hold no slots at all
  });

  it("releases exactly what a run holds", () => {
    expect(release(start("waiting"), NOW)).toEqual({
      counters: [{ definition: "report", waiting: -1, at: NOW.toISOString() }],
    });
    expect(release({ ...start("queued"), status: "running" }, NOW)).toEqual({
      counters: [{ definition: "report", running: -1, at: NOW.toISOString() }],
    });
    expect(release(run({ status: "running" }), NOW)).toEqual({});
  });

  it("keeps the slot through a retry's backoff and gives it back on the final failure", () => {
    const held = { ...start("queued"), status: "running" as const, attempts: 1 };
    expect(afterHandlerError(held, new Error("x"), NOW, () => 0).counters).toBeUndefined();
    expect(afterHandlerError({ ...held, attempts: 3 }, new Error("x"), NOW, () => 0).counters).toMatchObject([
      { running: -1 },
    ]);
  });
});

describe("abandoned runs (the worker stopped renewing its lease)", () => {
  const lease = later(-1_000).toISOString();
  const abandoned = (overrides: Partial<Run>) =>
    run({
      status: "running",
      attempts: 1,
      leaseUntil: lease,
      attemptStartedAt: later(-10_000).toISOString(),
      ...overrides,
    });

  it("goes back to the queue while attempts are left", () => {
    expect(endAbandoned(abandoned({}), NOW)).toBeUndefined();
    expect(requeueAbandoned(abandoned({}), NOW)).toMatchObject({
      guard: { status: "running", attempts: 1, leaseUntil: lease },
      patch: { status: "queued", leaseUntil: null, error: { code: "worker_lost" } },
    });
  });

  it("ends cancelled when a cancel was asked for, whatever the attempts", () => {
    const ending = endAbandoned(abandoned({ cancelRequestedAt: later(-5_000).toISOString() }), NOW);
    expect(ending?.patch.status).toBe("cancelled");
    expect(whenClaimMissed(abandoned({ cancelRequestedAt: NOW.toISOString() }), NOW)).toMatchObject({
      kind: "give_up",
      patch: { status: "cancelled" },
    });
  });

  it("ends timed_out past its deadline and failed before it, once attempts are used up", () => {
    const pastDeadline = abandoned({ attempts: 3, timeoutSeconds: 5 });
    expect(endAbandoned(pastDeadline, NOW)?.patch).toMatchObject({
      status: "timed_out",
      error: { code: "timed_out" },
    });
    const withinDeadline = abandoned({ attempts: 3, timeoutSeconds: 60 });
    expect(endAbandoned(withinDeadline, NOW)?.patch).toMatchObject({
      status: "failed",
      error: { code: "worker_lost" },
    });
  });
});
