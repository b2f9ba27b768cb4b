/**
 * What bounds a run's stored data: the size limits, the bounded log, sealed (encrypted) values
 * and the metric values of its events. Exact values at the edges.
 */
import { describe, expect, it } from "vitest";
import { newRun } from "../../shared/core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../../shared/core/limits.ts";
import type { Run } from "../../shared/core/run.ts";
import { appendLogLines } from "../../shared/core/run-logs.ts";
import { claimedValues, endedValues, labelsOf, RUN_METRICS } from "../../shared/core/run-metrics.ts";
import {
  isSealed,
  maskSealed,
  SEALED_PLACEHOLDER,
  SEALED_PREFIX,
  sealedLookalikeAt,
} from "../../shared/core/sealed.ts";
import { reportDefinition } from "../support/fixtures.ts";

const NOW = new Date("2026-01-01T12:00:00.000Z");
const AT = "2026-01-01T12:00:00.000Z";

describe("LIMITS", () => {
  it("are these, in bytes, characters, seconds and counts", () => {
    expect(LIMITS).toStrictEqual({
      paramsBytes: 1_048_576,
      defaultParamsBytes: 262_144,
      requestBodyBytes: 1_114_112,
      requestBodyDepth: 64,
      outputBytes: 1_048_576,
      feedbackChars: 16_384,
      logLineChars: 2_048,
      logChars: 32_768,
      onceResultBytes: 16_384,
      maxAttempts: 20,
      maxConcurrency: 10_000,
      maxQueueLength: 1_000_000,
      maxTimeoutSeconds: 840,
      maxCallbackTimeoutSeconds: 604_800,
      subtextChars: 2_000,
      maxDelayMs: 31_536_000_000,
      idempotencyKeyChars: 256,
      idempotencyTtlSeconds: 86_400,
      listPageSize: 100,
      summaryFeedbackChars: 1_000,
      responseBodyBytes: 2_500_000,
      lambdaResponseBytes: 6_291_456,
    });
  });

  it("let a run's GET at the maximum travel as a Lambda request and response, whatever it holds", () => {
    // The body is one JSON string in the Lambda payload: each byte of it at most doubles there
    // (a `"` or `\\` gains a `\\`). Logs are counted in characters (at most 3 UTF-8 bytes
    // each); the hot item holds the rest and is at most one DynamoDB item.
    const hotItemBytes = 400 * 1024;
    const headroom = 64 * 1024;
    const getBody = LIMITS.paramsBytes + LIMITS.outputBytes + 3 * LIMITS.logChars + hotItemBytes;
    expect(2 * getBody + headroom).toBeLessThanOrEqual(LIMITS.lambdaResponseBytes);
    expect(2 * LIMITS.requestBodyBytes + headroom).toBeLessThanOrEqual(LIMITS.lambdaResponseBytes);
    expect(LIMITS.requestBodyBytes).toBeGreaterThan(LIMITS.paramsBytes);
  });

  it("measure JSON in UTF-8 bytes, and nothing as zero", () => {
    expect(jsonBytes({ a: "é" })).toBe(10);
    expect(jsonBytes("x")).toBe(3);
    expect(jsonBytes(undefined)).toBe(0);
  });
});

describe("appendLogLines", () => {
  const line = (chars: number, fill = "x") => fill.repeat(chars);

  it("appends lines stamped with the time, keeping what was there", () => {
    expect(appendLogLines([{ at: "earlier", line: "one" }], 0, ["two", "three"], NOW)).toStrictEqual({
      logs: [
        { at: "earlier", line: "one" },
        { at: AT, line: "two" },
        { at: AT, line: "three" },
      ],
      dropped: 0,
    });
  });

  it("does not change the log it was given", () => {
    const logs = [{ at: "earlier", line: "one" }];
    appendLogLines(logs, 0, ["two"], NOW);
    expect(logs).toStrictEqual([{ at: "earlier", line: "one" }]);
  });

  it("cuts a line longer than 2048 characters, and only such a line", () => {
    const { logs } = appendLogLines([], 0, [line(2_048), line(2_049)], NOW);
    expect(logs.map((entry) => entry.line)).toStrictEqual([line(2_048), `${line(2_048)}…`]);
  });

  it("drops the oldest lines once the total passes 32768 characters, counting them on", () => {
    const full = Array.from({ length: 16 }, (_, index) => ({
      at: "earlier",
      line: line(2_048, String(index % 10)),
    }));
    // Exactly at the limit: nothing goes.
    expect(appendLogLines(full.slice(0, 15), 3, [line(2_048)], NOW)).toMatchObject({ dropped: 3 });
    expect(appendLogLines(full.slice(0, 15), 3, [line(2_048)], NOW).logs).toHaveLength(16);
    // One character over: the oldest line goes, counted on top of what was dropped before.
    const over = appendLogLines(full, 3, ["y"], NOW);
    expect(over.dropped).toBe(4);
    expect(over.logs).toHaveLength(16);
    expect(over.logs[0]).toStrictEqual(full[1]);
    expect(over.logs[15]).toStrictEqual({ at: AT, line: "y" });
    // Two full lines over: two go.
    expect(appendLogLines(full, 0, [line(2_048), line(2_048)], NOW).dropped).toBe(2);
  });

  it("keeps the newest line even when it alone fills the log", () => {
    const result = appendLogLines([{ at: "earlier", line: line(32_768) }], 0, ["z"], NOW);
    expect(result).toStrictEqual({ logs: [{ at: AT, line: "z" }], dropped: 1 });
    const alone = appendLogLines([], 0, [line(40_000)], NOW);
    expect(alone).toStrictEqual({ logs: [{ at: AT, line: `${line(2_048)}…` }], dropped: 0 });
  });
});

describe("sealed values", () => {
  const sealed = `${SEALED_PREFIX}abc`;

  it("are recognised by their prefix", () => {
    expect(SEALED_PREFIX).toBe("baton:sealed:v1:");
    expect(SEALED_PLACEHOLDER).toBe("[encrypted]");
    expect(isSealed(sealed)).toBe(true);
    expect(isSealed(SEALED_PREFIX)).toBe(true);
    expect(isSealed(`x${sealed}`)).toBe(false);
    expect(isSealed("baton:sealed:v2:abc")).toBe(false);
    expect(isSealed(42)).toBe(false);
    expect(isSealed(null)).toBe(false);
  });

  it("are masked at any depth, leaving everything else as it was", () => {
    expect(maskSealed(sealed)).toBe("[encrypted]");
    expect(maskSealed([sealed, "plain", 1, null, { deep: [sealed] }])).toStrictEqual([
      "[encrypted]",
      "plain",
      1,
      null,
      { deep: ["[encrypted]"] },
    ]);
    expect(maskSealed(null)).toBeNull();
    expect(maskSealed(7)).toBe(7);
    expect(maskSealed("plain")).toBe("plain");
  });

  it("sent by a client are found wherever they hide, with the path to name in the 400", () => {
    expect(sealedLookalikeAt(sealed)).toBe("");
    expect(sealedLookalikeAt({ token: sealed })).toBe("token");
    expect(sealedLookalikeAt({ a: { b: "plain", c: { d: sealed } } })).toBe("a.c.d");
    expect(sealedLookalikeAt({ files: ["x", 1, null, { name: sealed }] })).toBe("files.3.name");
    expect(sealedLookalikeAt([[sealed]])).toBe("0.0");
  });

  it("are not seen in values that merely resemble them", () => {
    for (const value of [
      undefined,
      null,
      0,
      true,
      "plain",
      `x${sealed}`,
      "baton:sealed:v2:abc",
      [],
      {},
      { [sealed]: "a key is not a value" },
      { a: [1, "two", null, { b: false }] },
    ]) {
      expect(sealedLookalikeAt(value)).toBeUndefined();
    }
  });

  it("are found at any depth without running out of stack", () => {
    let deep: unknown = sealed;
    for (let level = 0; level < 100_000; level += 1) deep = [deep];
    expect(sealedLookalikeAt(deep)).toBe(Array.from({ length: 100_000 }, () => "0").join("."));
  });
});

describe("run metrics", () => {
  const definition = reportDefinition({ createdAt: AT, updatedAt: AT });
  const queued = newRun({ tenant: "acme", id: "r1", definition, params: {}, createdBy: "k1" }, "queued", NOW);
  const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
  const claimed = (overrides: Partial<Run> = {}): Run => ({
    ...queued,
    status: "running",
    attempts: 1,
    startedAt: at(250),
    attemptStartedAt: at(250),
    ...overrides,
  });

  it("have these names and units", () => {
    expect(RUN_METRICS).toStrictEqual({
      RunsStarted: "Count",
      RunsSucceeded: "Count",
      RunsFailed: "Count",
      RunsTimedOut: "Count",
      RunsCancelled: "Count",
      QueueWait: "Milliseconds",
      RunTime: "Milliseconds",
    });
  });

  it("label a run with its attempt only once it has one", () => {
    expect(labelsOf(queued)).toStrictEqual({ tenant: "acme", taskId: "r1", definition: "report" });
    expect(labelsOf(claimed())).toStrictEqual({
      tenant: "acme",
      taskId: "r1",
      definition: "report",
      attempt: 1,
    });
  });

  it("measure the queue wait from the first claim, or the run's start when no claim time is kept", () => {
    expect(claimedValues(claimed())).toStrictEqual({ QueueWait: 250 });
    expect(claimedValues(claimed({ attemptStartedAt: undefined, startedAt: at(400) }))).toStrictEqual({
      QueueWait: 400,
    });
    expect(claimedValues(claimed({ attemptStartedAt: undefined, startedAt: undefined }))).toBeUndefined();
  });

  it("measure no queue wait for a workflow run, a retry or a run not yet claimed", () => {
    expect(claimedValues(claimed({ kind: "workflow" }))).toBeUndefined();
    expect(claimedValues(claimed({ kind: "task" }))).toStrictEqual({ QueueWait: 250 });
    expect(claimedValues(claimed({ attempts: 0 }))).toBeUndefined();
    expect(claimedValues(claimed({ attempts: 2 }))).toBeUndefined();
  });

  it("count an end by its status, with its run time when both ends are known", () => {
    expect(endedValues(claimed(), "succeeded", at(1_250))).toStrictEqual({
      RunsSucceeded: 1,
      RunTime: 1_000,
    });
    expect(endedValues(claimed(), "failed", null)).toStrictEqual({ RunsFailed: 1 });
    expect(endedValues(claimed(), "timed_out", undefined)).toStrictEqual({ RunsTimedOut: 1 });
    expect(endedValues(claimed({ startedAt: undefined }), "cancelled", at(10))).toStrictEqual({
      RunsCancelled: 1,
    });
    expect(endedValues(claimed(), "cancelled", at(0))).toStrictEqual({ RunsCancelled: 1, RunTime: 0 });
    expect(endedValues(claimed(), "succeeded", "not a time")).toStrictEqual({ RunsSucceeded: 1 });
  });

  it("count nothing for a move that is no end", () => {
    for (const to of ["scheduled", "waiting", "queued", "running", "awaiting", null, undefined] as const) {
      expect(endedValues(claimed(), to, at(1_000))).toBeUndefined();
    }
  });
});
