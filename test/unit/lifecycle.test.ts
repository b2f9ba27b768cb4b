import { describe, expect, it } from "vitest";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import { NonRetriableError } from "../../shared/core/errors.ts";
import {
  afterHandlerError,
  BACKOFF,
  backoffMs,
  newRun,
  succeededPatch,
  whenClaimMissed,
} from "../../shared/core/lifecycle.ts";
import { canTransition, isTerminal, RUN_STATUSES, RUN_TRANSITIONS, type Run } from "../../shared/core/run.ts";

/** A fixed point in time: lifecycle functions take the clock as an argument. */
const NOW = new Date("2026-01-01T12:00:00.000Z");
const later = (ms: number) => new Date(NOW.getTime() + ms);

const definition: TaskDefinition = {
  tenant: "acme",
  name: "report",
  handler: "echo",
  params: { format: "pdf", pages: 1 },
  maxAttempts: 3,
  timeoutSeconds: 60,
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
};

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
