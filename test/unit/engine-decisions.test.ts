/** The pure decisions the engine added: provenance of a started run, and a timed-out attempt. */
import { describe, expect, it } from "vitest";
import {
  afterTimeout,
  newRun,
  newWorkflowRun,
  provenanceFrom,
  queueFullPatch,
} from "../../shared/core/lifecycle.ts";
import type { Run } from "../../shared/core/run.ts";
import { reportDefinition } from "../support/fixtures.ts";

const NOW = new Date("2026-11-29T12:00:00.000Z");
const definition = reportDefinition({ createdAt: "", updatedAt: "" });
const base = { tenant: "acme", id: "r1", definition, params: {}, createdBy: "key1" };

function running(overrides: Partial<Run> = {}): Run {
  return { ...newRun(base, "queued", NOW), status: "running", attempts: 1, ...overrides };
}

describe("provenanceFrom", () => {
  it("makes a root's child depth 1 with the root as its root", () => {
    expect(provenanceFrom({ id: "p", tenant: "acme" }, "task:1")).toEqual({
      taskId: "p",
      tenant: "acme",
      via: "task:1",
      root: { taskId: "p", tenant: "acme" },
      depth: 1,
    });
  });

  it("keeps the tree's root and counts one deeper below a started run", () => {
    const parent = { id: "c", tenant: "globex", root: { taskId: "p", tenant: "acme" }, depth: 3 };
    expect(provenanceFrom(parent, "chain:next")).toEqual({
      taskId: "c",
      tenant: "globex",
      via: "chain:next",
      root: { taskId: "p", tenant: "acme" },
      depth: 4,
    });
  });
});

describe("newRun's provenance", () => {
  it("defaults to an api run with no origin, root or depth", () => {
    const run = newRun(base, "queued", NOW);
    expect(run.trigger).toBe("api");
    expect(run).not.toHaveProperty("origin");
    expect(run).not.toHaveProperty("root");
    expect(run).not.toHaveProperty("depth");
  });

  it("records who started it, and splits origin from root and depth", () => {
    const run = newRun(
      { ...base, trigger: "task", origin: provenanceFrom({ id: "p", tenant: "acme" }, "task:k") },
      "queued",
      NOW,
    );
    expect(run).toMatchObject({
      trigger: "task",
      origin: { taskId: "p", tenant: "acme", via: "task:k" },
      root: { taskId: "p", tenant: "acme" },
      depth: 1,
    });
    expect(run.origin).not.toHaveProperty("depth");
  });

  it("snapshots retryOnTimeout only when the definition sets it", () => {
    expect(newRun(base, "queued", NOW)).not.toHaveProperty("retryOnTimeout");
    expect(
      newRun({ ...base, definition: { ...definition, retryOnTimeout: true } }, "queued", NOW).retryOnTimeout,
    ).toBe(true);
  });

  it("gives a workflow run one attempt of one, and keeps its chains", () => {
    const chains = [{ name: "next", params: [] }];
    const workflow = newWorkflowRun(
      { ...base, definition: { ...definition, kind: "workflow", steps: [] }, chains, trigger: "schedule" },
      NOW,
    );
    expect(workflow).toMatchObject({
      attempts: 1,
      maxAttempts: 1,
      chains,
      trigger: "schedule",
      status: "running",
    });
  });
});

describe("afterTimeout", () => {
  const random = () => 0.5;

  it("ends the run timed_out, freeing its slot, when retryOnTimeout is not set", () => {
    const decision = afterTimeout(running({ slot: true }), NOW, random);
    expect(decision.retryInMs).toBeUndefined();
    expect(decision.patch).toMatchObject({ status: "timed_out", error: { code: "timed_out" } });
    expect(decision.counters).toEqual([{ definition: "report", running: -1, at: NOW.toISOString() }]);
  });

  it("retries after backoff, keeping the slot, while attempts remain", () => {
    const decision = afterTimeout(running({ retryOnTimeout: true, slot: true }), NOW, random);
    // Attempt 1's window is 1 s: half fixed, half random (0.5 here).
    expect(decision.retryInMs).toBe(750);
    expect(decision.counters).toBeUndefined();
    expect(decision.patch).toMatchObject({
      status: "queued",
      nextAttemptAt: "2026-11-29T12:00:00.750Z",
      leaseUntil: null,
      error: { code: "timed_out", message: "attempt 1 ran longer than 60 s" },
    });
  });

  it("ends the last attempt timed_out even with retryOnTimeout", () => {
    const decision = afterTimeout(running({ retryOnTimeout: true, attempts: 3 }), NOW, random);
    expect(decision.retryInMs).toBeUndefined();
    expect(decision.patch.status).toBe("timed_out");
  });
});

describe("queueFullPatch", () => {
  it("fails a scheduled run with queue_full and the given message", () => {
    const scheduled = newRun(base, "scheduled", NOW);
    expect(queueFullPatch(scheduled, NOW, "the line was full")).toMatchObject({
      status: "failed",
      endedAt: NOW.toISOString(),
      error: { code: "queue_full", message: "the line was full" },
    });
    expect(queueFullPatch(scheduled, NOW).error?.message).toContain('definition "report"');
  });
});
