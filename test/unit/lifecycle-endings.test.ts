/**
 * The lifecycle's claim, retry and ending side as exact values: every patch written out field by
 * field, at the boundaries (the last attempt, a lease ending exactly now, a deadline reached
 * exactly now, the jitter's both ends). Times are written out, not computed from the module's
 * constants, so a changed constant fails here too.
 */
import { describe, expect, it } from "vitest";
import { NonRetriableError } from "../../shared/core/errors.ts";
import {
  afterHandlerError,
  assertNever,
  awaitingPatch,
  backoffMs,
  callbackTimedOutEnding,
  cancelledEnding,
  endAbandoned,
  ended,
  failedEnding,
  leaseGuard,
  newRun,
  ORPHAN_WAIT_MS,
  release,
  requeueAbandoned,
  succeededEnding,
  succeededPatch,
  timedOutEnding,
  whenClaimMissed,
} from "../../shared/core/lifecycle.ts";
import type { Run } from "../../shared/core/run.ts";
import { reportDefinition } from "../support/fixtures.ts";

const NOW = new Date("2026-01-01T12:00:00.000Z");
const AT = "2026-01-01T12:00:00.000Z";
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

const definition = reportDefinition({ createdAt: AT, updatedAt: AT });

function run(overrides: Partial<Run> = {}): Run {
  return {
    ...newRun({ tenant: "acme", id: "r1", definition, params: {}, createdBy: "k1" }, "queued", NOW),
    ...overrides,
  };
}

/** A run in its attempt, with a lease that ended a second ago and a claim ten seconds ago. */
const abandoned = (overrides: Partial<Run> = {}) =>
  run({
    status: "running",
    attempts: 1,
    leaseUntil: at(-1_000),
    attemptStartedAt: at(-10_000),
    ...overrides,
  });

/** The fields every ending writes. */
const endedAt = (status: string) => ({
  status,
  updatedAt: AT,
  endedAt: AT,
  leaseUntil: null,
  nextAttemptAt: null,
  sweepAt: null,
});

const slotBack = { counters: [{ definition: "report", running: -1, at: AT }] };

describe("backoffMs", () => {
  it("is half the window fixed plus the random share of the other half", () => {
    expect(backoffMs(1, () => 0)).toBe(500);
    expect(backoffMs(1, () => 0.5)).toBe(750);
    expect(backoffMs(1, () => 1)).toBe(1_000);
    expect(backoffMs(1, () => 0.001)).toBe(501); // rounded, not cut
  });

  it("doubles the window per attempt, counting from the first", () => {
    expect(backoffMs(0, () => 1)).toBe(1_000);
    expect(backoffMs(2, () => 1)).toBe(2_000);
    expect(backoffMs(3, () => 0)).toBe(2_000);
    expect(backoffMs(4, () => 1)).toBe(8_000);
  });

  it("caps the window at five minutes", () => {
    expect(backoffMs(9, () => 1)).toBe(256_000);
    expect(backoffMs(10, () => 0)).toBe(150_000);
    expect(backoffMs(10, () => 1)).toBe(300_000);
  });

  it("follows a given policy, its cap reached exactly", () => {
    const policy = { baseMs: 1_000, maxMs: 4_000 } as const;
    expect(backoffMs(3, () => 1, policy)).toBe(4_000);
    expect(backoffMs(4, () => 1, policy)).toBe(4_000);
    expect(backoffMs(4, () => 0, policy)).toBe(2_000);
  });
});

describe("whenClaimMissed", () => {
  it("waits for the run of a message sent before its write, as long as it has waited, until ORPHAN_WAIT_MS", () => {
    const sentAgo = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
    const waits = (seconds: number) => ({ kind: "later", seconds, reason: "run not written yet" });
    expect(whenClaimMissed(undefined, NOW, sentAgo(0))).toStrictEqual(waits(1));
    expect(whenClaimMissed(undefined, NOW, sentAgo(-5_000))).toStrictEqual(waits(1)); // a clock ahead
    expect(whenClaimMissed(undefined, NOW, sentAgo(4_000))).toStrictEqual(waits(4));
    expect(whenClaimMissed(undefined, NOW, sentAgo(ORPHAN_WAIT_MS - 1))).toStrictEqual(waits(30));
    expect(whenClaimMissed(undefined, NOW, sentAgo(ORPHAN_WAIT_MS))).toStrictEqual({
      kind: "ack",
      reason: "run never written",
    });
    expect(whenClaimMissed(undefined, NOW, "not a time")).toStrictEqual({
      kind: "ack",
      reason: "run never written",
    });
  });

  it("acks what no worker should take", () => {
    expect(whenClaimMissed(undefined, NOW)).toStrictEqual({ kind: "ack", reason: "run does not exist" });
    for (const status of ["succeeded", "failed", "cancelled", "timed_out"] as const) {
      expect(whenClaimMissed(run({ status }), NOW)).toStrictEqual({
        kind: "ack",
        reason: `run already ${status}`,
      });
    }
    expect(whenClaimMissed(run({ status: "waiting" }), NOW)).toStrictEqual({
      kind: "ack",
      reason: "run is waiting for a slot",
    });
    expect(whenClaimMissed(run({ status: "awaiting" }), NOW)).toStrictEqual({
      kind: "ack",
      reason: "run is awaiting its callback",
    });
    expect(whenClaimMissed(run({ status: "scheduled" }), NOW)).toStrictEqual({
      kind: "ack",
      reason: "run already scheduled",
    });
  });

  it("keeps a retry's message until its backoff is over, a second at least", () => {
    const queued = (nextAttemptAt?: string) => run({ status: "queued", attempts: 1, nextAttemptAt });
    const later = (seconds: number) => ({ kind: "later", seconds, reason: "retry backoff not over" });
    expect(whenClaimMissed(queued(at(2_500)), NOW)).toStrictEqual(later(3));
    expect(whenClaimMissed(queued(at(4_000)), NOW)).toStrictEqual(later(4));
    expect(whenClaimMissed(queued(at(-60_000)), NOW)).toStrictEqual(later(1));
    expect(whenClaimMissed(queued(undefined), NOW)).toStrictEqual(later(1));
  });

  it("keeps a duplicate while a live worker holds the run, until its lease ends", () => {
    const held = (leaseUntil: string) => run({ status: "running", attempts: 1, leaseUntil });
    const later = (seconds: number) => ({ kind: "later", seconds, reason: "claimed by a live worker" });
    expect(whenClaimMissed(held(at(7_500)), NOW)).toStrictEqual(later(8));
    expect(whenClaimMissed(held(at(1)), NOW)).toStrictEqual(later(1));
  });

  it("treats a lease ending exactly now, or none at all, as abandoned", () => {
    const claimable = { kind: "later", seconds: 1, reason: "claimable again" };
    expect(whenClaimMissed(run({ status: "running", attempts: 1, leaseUntil: AT }), NOW)).toStrictEqual(
      claimable,
    );
    expect(whenClaimMissed(run({ status: "running", attempts: 1 }), NOW)).toStrictEqual(claimable);
  });

  it("gives up on an abandoned run that may not be tried again, with its ending", () => {
    const lastTry = abandoned({ attempts: 3 });
    expect(whenClaimMissed(lastTry, NOW)).toStrictEqual({
      kind: "give_up",
      reason: "worker lost",
      ...endAbandoned(lastTry, NOW),
    });
  });
});

describe("leaseGuard", () => {
  it("holds only for this attempt under this lease", () => {
    expect(leaseGuard(abandoned({ attempts: 2 }))).toStrictEqual({
      status: "running",
      attempts: 2,
      leaseUntil: at(-1_000),
    });
  });

  it("names no lease when the run has none", () => {
    expect(leaseGuard(run({ status: "running", attempts: 1 }))).toStrictEqual({
      status: "running",
      attempts: 1,
    });
  });
});

describe("endAbandoned", () => {
  const guard = (attempts: number) => ({ status: "running", attempts, leaseUntil: at(-1_000) });

  it("leaves a run with attempts left to be retried", () => {
    expect(endAbandoned(abandoned({ attempts: 2 }), NOW)).toBeUndefined();
  });

  it("ends cancelled when a cancel was asked for, even with attempts left, giving its slot back", () => {
    expect(endAbandoned(abandoned({ cancelRequestedAt: at(-5_000), slot: true }), NOW)).toStrictEqual({
      guard: guard(1),
      patch: endedAt("cancelled"),
      ...slotBack,
    });
  });

  it("ends timed_out on the last attempt once the deadline is reached, exactly now included", () => {
    // Claimed ten seconds ago with a ten-second timeout: the deadline is now.
    expect(endAbandoned(abandoned({ attempts: 3, timeoutSeconds: 10, slot: true }), NOW)).toStrictEqual({
      guard: guard(3),
      patch: {
        ...endedAt("timed_out"),
        error: { code: "timed_out", message: "attempt 3 ran longer than 10 s" },
        // The attempt's record, beside the run (attempt history).
        failedAttempt: {
          attempt: 3,
          startedAt: at(-10_000),
          endedAt: AT,
          outcome: "timed_out",
          error: { code: "timed_out", message: "attempt 3 ran longer than 10 s" },
        },
      },
      ...slotBack,
    });
  });

  it("ends failed, worker lost, on the last attempt before the deadline", () => {
    const error = {
      code: "worker_lost",
      message: "the worker stopped responding during attempt 3 of 3; no attempts left",
    };
    const failed = (startedAt?: string) => ({
      guard: guard(3),
      patch: {
        ...endedAt("failed"),
        error,
        failedAttempt: {
          attempt: 3,
          ...(startedAt === undefined ? {} : { startedAt }),
          endedAt: AT,
          outcome: "worker_lost",
          error,
        },
      },
    });
    expect(endAbandoned(abandoned({ attempts: 3, timeoutSeconds: 11 }), NOW)).toStrictEqual(
      failed(at(-10_000)),
    );
    // No attempt start recorded: no deadline to have passed.
    expect(endAbandoned(abandoned({ attempts: 3, attemptStartedAt: undefined }), NOW)).toStrictEqual(
      failed(),
    );
  });
});

describe("requeueAbandoned", () => {
  it("puts the run back in the queue, guarded by its lease, keeping what it holds", () => {
    expect(requeueAbandoned(abandoned({ slot: true }), NOW)).toStrictEqual({
      guard: { status: "running", attempts: 1, leaseUntil: at(-1_000) },
      patch: {
        status: "queued",
        updatedAt: AT,
        leaseUntil: null,
        nextAttemptAt: null,
        sweepAt: "2026-01-01T12:15:00.000Z",
        error: { code: "worker_lost", message: "the worker stopped responding during attempt 1" },
        failedAttempt: {
          attempt: 1,
          startedAt: at(-10_000),
          endedAt: AT,
          outcome: "worker_lost",
          error: { code: "worker_lost", message: "the worker stopped responding during attempt 1" },
        },
      },
    });
  });
});

describe("awaitingPatch", () => {
  const running = (overrides: Partial<Run> = {}) =>
    run({ status: "running", attempts: 1, mode: "callback", ...overrides });

  it("keeps the output and waits until the callback deadline", () => {
    expect(awaitingPatch(running({ callbackTimeoutSeconds: 90 }), { ok: true }, NOW)).toStrictEqual({
      status: "awaiting",
      updatedAt: AT,
      output: { ok: true },
      error: null,
      leaseUntil: null,
      callbackDeadline: "2026-01-01T12:01:30.000Z",
      sweepAt: "2026-01-01T12:01:30.000Z",
    });
  });

  it("stores no output as null and waits a day by default", () => {
    expect(awaitingPatch(running(), undefined, NOW)).toMatchObject({
      output: null,
      callbackDeadline: "2026-01-02T12:00:00.000Z",
    });
  });
});

describe("callbackTimedOutEnding", () => {
  it("ends timed_out, naming the deadline, and voids the callback token", () => {
    const awaiting = run({ status: "awaiting", attempts: 1, slot: true, callbackDeadline: at(-1) });
    expect(callbackTimedOutEnding(awaiting, NOW)).toStrictEqual({
      patch: {
        ...endedAt("timed_out"),
        error: { code: "callback_timed_out", message: `no final callback arrived by ${at(-1)}` },
        callbackTokenHash: null,
      },
      ...slotBack,
    });
  });

  it("still says why without a recorded deadline", () => {
    const ending = callbackTimedOutEnding(run({ status: "awaiting", attempts: 1 }), NOW);
    expect(ending.patch.error).toStrictEqual({
      code: "callback_timed_out",
      message: "no final callback arrived by the deadline",
    });
    expect(ending).not.toHaveProperty("counters");
  });
});

describe("succeeded", () => {
  it("keeps the output and clears the error", () => {
    expect(succeededPatch(run({ status: "running" }), { rows: 3 }, NOW)).toStrictEqual({
      ...endedAt("succeeded"),
      output: { rows: 3 },
      error: null,
    });
    expect(succeededPatch(run({ status: "awaiting" }), undefined, NOW).output).toBeNull();
  });

  it("gives the slot back", () => {
    expect(succeededEnding(run({ status: "running", slot: true }), "done", NOW)).toStrictEqual({
      patch: { ...endedAt("succeeded"), output: "done", error: null },
      ...slotBack,
    });
  });
});

describe("afterHandlerError", () => {
  const running = (attempts: number, overrides: Partial<Run> = {}) =>
    run({ status: "running", attempts, slot: true, ...overrides });

  it("retries while attempts are left, keeping the slot, rechecked after the backoff", () => {
    expect(afterHandlerError(running(2), new Error("boom"), NOW, () => 0.5)).toStrictEqual({
      retryInMs: 1_500,
      patch: {
        status: "queued",
        updatedAt: AT,
        nextAttemptAt: "2026-01-01T12:00:01.500Z",
        leaseUntil: null,
        sweepAt: "2026-01-01T12:15:01.500Z",
        error: { code: "handler_error", message: "boom" },
      },
    });
  });

  it("fails on the last attempt, exactly when attempts reach maxAttempts, giving the slot back", () => {
    expect(afterHandlerError(running(3), new Error("boom"), NOW, () => 0)).toStrictEqual({
      patch: { ...endedAt("failed"), error: { code: "handler_error", message: "boom" } },
      ...slotBack,
    });
  });

  it("fails at once on a NonRetriableError, by class or by name", () => {
    const failed = (message: string) => ({
      patch: { ...endedAt("failed"), error: { code: "non_retriable", message } },
      ...slotBack,
    });
    expect(afterHandlerError(running(1), new NonRetriableError("no customer"), NOW, () => 0)).toStrictEqual(
      failed("no customer"),
    );
    // Thrown from a copy of the class (another bundle): only the name is the same.
    const lookalike = Object.assign(new Error("bad input"), { name: "NonRetriableError" });
    expect(afterHandlerError(running(1), lookalike, NOW, () => 0)).toStrictEqual(failed("bad input"));
  });

  it("records what a handler threw that is not an Error", () => {
    expect(afterHandlerError(running(1), "plain text", NOW, () => 0).patch.error).toStrictEqual({
      code: "handler_error",
      message: "plain text",
    });
    expect(
      afterHandlerError(running(1), { name: "NonRetriableError" }, NOW, () => 0).patch.error,
    ).toStrictEqual({
      code: "handler_error",
      message: "[object Object]",
    });
  });

  it("cuts a long message at 2000 characters", () => {
    const exact = "x".repeat(2_000);
    expect(afterHandlerError(running(1), new Error(exact), NOW, () => 0).patch.error).toStrictEqual({
      code: "handler_error",
      message: exact,
    });
    expect(afterHandlerError(running(1), new Error(`${exact}yz`), NOW, () => 0).patch.error).toStrictEqual({
      code: "handler_error",
      message: `${exact}…`,
    });
  });
});

describe("endings of a running run", () => {
  const running = run({ status: "running", attempts: 2, slot: true });

  it("failed, with the error given", () => {
    const error = { code: "output_too_large", message: "too big" } as const;
    expect(failedEnding(running, error, NOW)).toStrictEqual({
      patch: { ...endedAt("failed"), error },
      ...slotBack,
    });
  });

  it("timed_out, naming the attempt and the timeout", () => {
    expect(timedOutEnding(running, NOW)).toStrictEqual({
      patch: {
        ...endedAt("timed_out"),
        error: { code: "timed_out", message: "attempt 2 ran longer than 60 s" },
      },
      ...slotBack,
    });
  });

  it("cancelled, with no error", () => {
    expect(cancelledEnding(running, NOW)).toStrictEqual({ patch: endedAt("cancelled"), ...slotBack });
  });

  it("refuses an ending the run's status does not allow", () => {
    expect(() => cancelledEnding(run({ status: "succeeded" }), NOW)).toThrow(
      "illegal run transition succeeded → cancelled",
    );
    expect(() => timedOutEnding(run({ status: "queued" }), NOW)).toThrow(
      "illegal run transition queued → timed_out",
    );
  });
});

describe("ended", () => {
  it("clears lease, retry time and sweep, with the error only when one is given", () => {
    expect(ended(run({ status: "running" }), "succeeded", NOW)).toStrictEqual(endedAt("succeeded"));
    const error = { code: "queue_full", message: "m" } as const;
    expect(ended(run({ status: "scheduled" }), "failed", NOW, error)).toStrictEqual({
      ...endedAt("failed"),
      error,
    });
  });
});

describe("release", () => {
  it("gives back a place in line, or a slot, or nothing", () => {
    expect(release(run({ status: "waiting" }), NOW)).toStrictEqual({
      counters: [{ definition: "report", waiting: -1, at: AT }],
    });
    // A waiting run never holds a slot; if one were set, the place in line is what it holds.
    expect(release(run({ status: "waiting", slot: true }), NOW)).toStrictEqual({
      counters: [{ definition: "report", waiting: -1, at: AT }],
    });
    expect(release(run({ status: "queued", slot: true }), NOW)).toStrictEqual(slotBack);
    expect(release(run({ status: "running", slot: false }), NOW)).toStrictEqual({});
    expect(release(run({ status: "running" }), NOW)).toStrictEqual({});
  });
});

describe("assertNever", () => {
  it("throws, naming the value nobody expected", () => {
    expect(() => assertNever("surprise" as never)).toThrow("unexpected value surprise");
  });
});
