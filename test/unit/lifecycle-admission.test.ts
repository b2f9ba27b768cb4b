/**
 * The lifecycle's admission side as exact values: what a new run looks like, and the patches that
 * move a delayed or waiting run towards the queue. Times are written out, not computed from the
 * module's constants, so a changed constant fails here too.
 */
import { describe, expect, it } from "vitest";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import {
  deadlineOf,
  dueQueuedPatch,
  dueWaitingPatch,
  type NewRunInput,
  newRun,
  newWorkflowRun,
  promotedPatch,
  queueFullPatch,
} from "../../shared/core/lifecycle.ts";
import type { Run } from "../../shared/core/run.ts";
import { reportDefinition } from "../support/fixtures.ts";

const NOW = new Date("2026-01-01T12:00:00.000Z");
const AT = "2026-01-01T12:00:00.000Z";
/** NOW plus the 15 minutes after which the sweeper sends a queued run's message again. */
const RESEND_AT = "2026-01-01T12:15:00.000Z";

const definition = reportDefinition({
  params: { format: "pdf", pages: 1 },
  createdAt: AT,
  updatedAt: AT,
});

const input = (overrides: Partial<NewRunInput> = {}): NewRunInput => ({
  tenant: "acme",
  id: "r1",
  definition,
  params: { pages: 7 },
  createdBy: "k1",
  ...overrides,
});

describe("newRun", () => {
  it("is exactly the snapshot of an unlimited definition, queued", () => {
    expect(newRun(input(), "queued", NOW)).toStrictEqual({
      tenant: "acme",
      id: "r1",
      definition: "report",
      handler: "echo",
      params: { format: "pdf", pages: 7 },
      trigger: "api",
      timeoutSeconds: 60,
      status: "queued",
      attempts: 0,
      maxAttempts: 3,
      createdAt: AT,
      updatedAt: AT,
      createdBy: "k1",
      sweepAt: RESEND_AT,
      logs: [],
      once: {},
    });
  });

  it("carries every optional part of the start when it is given", () => {
    const scheduledFor = new Date("2026-01-02T00:00:00.000Z");
    const chains = [{ name: "next", params: [] }];
    expect(
      newRun(
        input({
          queue: "q",
          idempotencyKey: "key-1",
          scheduledFor,
          trigger: "schedule",
          parent: { id: "wf1", step: "fetch" },
          chains,
        }),
        "scheduled",
        NOW,
      ),
    ).toStrictEqual({
      tenant: "acme",
      id: "r1",
      definition: "report",
      handler: "echo",
      queue: "q",
      params: { format: "pdf", pages: 7 },
      idempotencyKey: "key-1",
      scheduledFor: "2026-01-02T00:00:00.000Z",
      trigger: "schedule",
      parent: { id: "wf1", step: "fetch" },
      chains,
      timeoutSeconds: 60,
      status: "scheduled",
      attempts: 0,
      maxAttempts: 3,
      createdAt: AT,
      updatedAt: AT,
      createdBy: "k1",
      logs: [],
      once: {},
    });
  });

  it("keeps no empty chain list", () => {
    expect(newRun(input({ chains: [] }), "queued", NOW)).not.toHaveProperty("chains");
  });

  it("takes the default timeout when the definition has none", () => {
    const loose = { ...definition, timeoutSeconds: undefined } as unknown as TaskDefinition;
    expect(newRun(input({ definition: loose }), "queued", NOW).timeoutSeconds).toBe(600);
  });

  it("gives a callback-mode run its callback timeout, or the default of a day", () => {
    const callback: TaskDefinition = { ...definition, mode: "callback", callbackTimeoutSeconds: 90 };
    expect(newRun(input({ definition: callback }), "queued", NOW)).toMatchObject({
      mode: "callback",
      callbackTimeoutSeconds: 90,
    });
    const { callbackTimeoutSeconds: _, ...withDefault } = callback;
    expect(newRun(input({ definition: withDefault }), "queued", NOW)).toMatchObject({
      mode: "callback",
      callbackTimeoutSeconds: 86_400,
    });
    const sync = newRun(input({ definition: { ...definition, mode: "sync" } }), "queued", NOW);
    expect(sync).not.toHaveProperty("mode");
    expect(sync).not.toHaveProperty("callbackTimeoutSeconds");
  });

  it("records a limited definition's limits, and takes a slot only when it goes straight to the queue", () => {
    const both: TaskDefinition = { ...definition, maxConcurrency: 2, maxQueueLength: 0 };
    const queued = newRun(input({ definition: both }), "queued", NOW);
    expect(queued.limits).toStrictEqual({ maxConcurrency: 2, maxQueueLength: 0 });
    expect(queued.slot).toBe(true);

    const waiting = newRun(input({ definition: both }), "waiting", NOW);
    expect(waiting.limits).toStrictEqual({ maxConcurrency: 2, maxQueueLength: 0 });
    expect(waiting).not.toHaveProperty("slot");
    expect(waiting).not.toHaveProperty("sweepAt");
    expect(waiting.status).toBe("waiting");

    const concurrencyOnly = newRun(
      input({ definition: { ...definition, maxConcurrency: 1 } }),
      "queued",
      NOW,
    );
    expect(concurrencyOnly.limits).toStrictEqual({ maxConcurrency: 1 });
    expect(concurrencyOnly.slot).toBe(true);

    const lineOnly = newRun(input({ definition: { ...definition, maxQueueLength: 4 } }), "queued", NOW);
    expect(lineOnly.limits).toStrictEqual({ maxQueueLength: 4 });

    const scheduled = newRun(input({ definition: both }), "scheduled", NOW);
    expect(scheduled).not.toHaveProperty("slot");
    expect(scheduled).not.toHaveProperty("sweepAt");
  });
});

describe("newWorkflowRun", () => {
  const workflow: TaskDefinition = {
    ...definition,
    name: "nightly",
    handler: "workflow",
    kind: "workflow",
    steps: [
      { id: "fetch", definition: "echo" },
      { id: "report", definition: "echo", dependsOn: ["fetch"] },
    ],
  };

  it("is running from the start, every step pending, rechecked in five minutes", () => {
    expect(
      newWorkflowRun(input({ definition: workflow, idempotencyKey: "k", trigger: "api" }), NOW),
    ).toStrictEqual({
      tenant: "acme",
      id: "r1",
      definition: "nightly",
      handler: "workflow",
      params: { format: "pdf", pages: 7 },
      idempotencyKey: "k",
      trigger: "api",
      kind: "workflow",
      workflowSteps: workflow.steps,
      stepStatus: { fetch: "pending", report: "pending" },
      timeoutSeconds: 60,
      status: "running",
      attempts: 1,
      maxAttempts: 1,
      createdAt: AT,
      updatedAt: AT,
      startedAt: AT,
      progress: 0,
      createdBy: "k1",
      sweepAt: "2026-01-01T12:05:00.000Z",
      logs: [],
      once: {},
    });
  });

  it("has no steps when its definition lists none, and the default timeout when it has none", () => {
    const bare = { ...definition, steps: undefined, timeoutSeconds: undefined } as unknown as TaskDefinition;
    const created = newWorkflowRun(input({ definition: bare }), NOW);
    expect(created.workflowSteps).toStrictEqual([]);
    expect(created.stepStatus).toStrictEqual({});
    expect(created.timeoutSeconds).toBe(600);
    expect(created).not.toHaveProperty("idempotencyKey");
    // What started it defaults to the API.
    expect(created.trigger).toBe("api");
  });
});

describe("delayed starts falling due", () => {
  it("go to the queue, with a slot only when the definition is limited", () => {
    expect(dueQueuedPatch(NOW, true)).toStrictEqual({
      status: "queued",
      updatedAt: AT,
      slot: true,
      sweepAt: RESEND_AT,
    });
    expect(dueQueuedPatch(NOW, false)).toStrictEqual({ status: "queued", updatedAt: AT, sweepAt: RESEND_AT });
  });

  it("go to the waiting line while the slots are taken", () => {
    expect(dueWaitingPatch(NOW)).toStrictEqual({ status: "waiting", updatedAt: AT });
  });

  it("fail as queue_full when the waiting line is full, naming the definition", () => {
    const scheduled = newRun(input(), "scheduled", NOW);
    expect(queueFullPatch(scheduled, NOW)).toStrictEqual({
      status: "failed",
      updatedAt: AT,
      endedAt: AT,
      leaseUntil: null,
      nextAttemptAt: null,
      sweepAt: null,
      error: {
        code: "queue_full",
        message: 'when it fell due, definition "report" already had its maxQueueLength of runs waiting',
      },
    });
  });
});

describe("promotedPatch", () => {
  it("moves a waiting run to the queue with a slot", () => {
    expect(promotedPatch(NOW)).toStrictEqual({
      status: "queued",
      updatedAt: AT,
      slot: true,
      sweepAt: RESEND_AT,
    });
  });
});

describe("deadlineOf", () => {
  const claimed = (overrides: Partial<Run>): Run => ({ ...newRun(input(), "queued", NOW), ...overrides });

  it("is the attempt's start plus the run's timeout", () => {
    expect(deadlineOf(claimed({ attemptStartedAt: AT, timeoutSeconds: 30 }))).toBe(
      Date.parse("2026-01-01T12:00:30.000Z"),
    );
  });

  it("is undefined before any attempt started", () => {
    expect(deadlineOf(claimed({}))).toBeUndefined();
  });
});
