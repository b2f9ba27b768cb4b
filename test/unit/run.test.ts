/**
 * The run as data: its statuses, the transition table, and the stored shape (the zod schema that
 * every read of a run goes through).
 */
import { describe, expect, it } from "vitest";
import {
  canTransition,
  isTerminal,
  LogLine,
  OnceRecord,
  RUN_STATUSES,
  RUN_TRANSITIONS,
  Run,
  RunStatus,
  refOf,
} from "../../shared/core/run.ts";
import { RunError } from "../../shared/core/run-errors.ts";

describe("run statuses", () => {
  it("are these nine, each named as itself", () => {
    expect(RUN_STATUSES).toStrictEqual([
      "scheduled",
      "waiting",
      "queued",
      "running",
      "awaiting",
      "succeeded",
      "failed",
      "cancelled",
      "timed_out",
    ]);
    for (const [key, value] of Object.entries(RunStatus)) expect(value).toBe(key);
  });
});

describe("the transition table", () => {
  it("allows exactly these moves", () => {
    expect(RUN_TRANSITIONS).toStrictEqual({
      scheduled: ["queued", "waiting", "cancelled", "failed"],
      waiting: ["queued", "cancelled"],
      queued: ["running", "cancelled"],
      running: ["running", "queued", "awaiting", "succeeded", "failed", "cancelled", "timed_out"],
      awaiting: ["succeeded", "failed", "cancelled", "timed_out"],
      succeeded: [],
      failed: [],
      cancelled: [],
      timed_out: [],
    });
  });

  it("answers canTransition from the table, for every pair", () => {
    for (const from of RUN_STATUSES) {
      for (const to of RUN_STATUSES) {
        expect(canTransition(from, to), `${from} → ${to}`).toBe(
          (RUN_TRANSITIONS[from] as readonly string[]).includes(to),
        );
      }
    }
    expect(canTransition("running", "running")).toBe(true);
    expect(canTransition("waiting", "running")).toBe(false);
  });

  it("calls terminal exactly the statuses with no way out", () => {
    expect(RUN_STATUSES.filter(isTerminal)).toStrictEqual(["succeeded", "failed", "cancelled", "timed_out"]);
  });
});

describe("the stored run", () => {
  const full: Run = {
    tenant: "acme",
    id: "r1",
    definition: "report",
    handler: "echo",
    queue: "q",
    params: { a: 1 },
    scheduledFor: "2026-01-02T00:00:00.000Z",
    trigger: "chain",
    origin: { taskId: "p1", tenant: "other", via: "chain:next" },
    root: { taskId: "p0", tenant: "other" },
    depth: 2,
    idempotencyKey: "key",
    timeoutSeconds: 60,
    slot: true,
    limits: { maxConcurrency: 2, maxQueueLength: 5 },
    status: "running",
    attempts: 1,
    maxAttempts: 3,
    retryOnTimeout: true,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:01.000Z",
    createdBy: "k1",
    startedAt: "2026-01-01T00:00:01.000Z",
    endedAt: "2026-01-01T00:00:02.000Z",
    leaseUntil: "2026-01-01T00:01:00.000Z",
    attemptStartedAt: "2026-01-01T00:00:01.000Z",
    nextAttemptAt: "2026-01-01T00:00:03.000Z",
    mode: "callback",
    callbackTimeoutSeconds: 90,
    callbackTokenHash: "ab12",
    callbackDeadline: "2026-01-01T00:02:00.000Z",
    kind: "workflow",
    workflowSteps: [{ id: "s1", definition: "echo", params: { x: 1 }, dependsOn: ["s0"] }],
    stepStatus: { s1: "pending" },
    chains: [{ customerId: "other", name: "next", params: [{ name: "p", value: "v", encrypt: true }] }],
    chainOutcomes: [
      {
        name: "next",
        customerId: "other",
        status: "failed",
        childTaskId: "c1",
        error: { code: "chain_not_found", message: "gone" },
      },
    ],
    parent: { id: "wf1", step: "s1" },
    cancelRequestedAt: "2026-01-01T00:00:02.000Z",
    sweepAt: "2026-01-01T00:03:00.000Z",
    output: { rows: 3 },
    error: { code: "handler_error", message: "boom" },
    feedback: "half way",
    progress: 0.5,
    subtext: "reading",
    logs: [{ at: "2026-01-01T00:00:01.000Z", line: "hello" }],
    logsDropped: 2,
    once: { charge: { attempt: 1, at: "2026-01-01T00:00:01.000Z", result: { id: "ch_1" } } },
  };

  it("reads back every field it stores", () => {
    expect(Run.parse(full)).toStrictEqual(full);
  });

  it.each([
    ["trigger", "schedule"],
    ["mode", "sync"],
    ["kind", "task"],
    ...RUN_STATUSES.map((status) => ["status", status]),
  ])("accepts %s %s", (field, value) => {
    expect(Run.parse({ ...full, [field]: value })).toMatchObject({ [field]: value });
  });

  it.each([
    ["an unknown status", { status: "paused" }],
    ["an unknown trigger", { trigger: "cron" }],
    ["an unknown mode", { mode: "async" }],
    ["an unknown kind", { kind: "job" }],
    ["a progress above 1", { progress: 1.5 }],
    ["negative attempts", { attempts: -1 }],
    ["no logs", { logs: undefined }],
  ])("refuses %s", (_what, change) => {
    expect(Run.safeParse({ ...full, ...change }).success).toBe(false);
  });

  it("keeps its parts' shapes", () => {
    expect(RunError.parse({ code: "worker_lost", message: "m" })).toStrictEqual({
      code: "worker_lost",
      message: "m",
    });
    expect(LogLine.parse({ at: "t", line: "l" })).toStrictEqual({ at: "t", line: "l" });
    expect(OnceRecord.parse({ attempt: 2, at: "t", result: [1] })).toStrictEqual({
      attempt: 2,
      at: "t",
      result: [1],
    });
    // A code this version does not know reads back as unrecognized, the stored code kept.
    expect(RunError.parse({ code: "c", message: "m" })).toStrictEqual({
      code: "unrecognized",
      message: "c: m",
    });
  });

  it("is referred to by tenant and id alone", () => {
    expect(refOf(full)).toStrictEqual({ tenant: "acme", id: "r1" });
  });
});
