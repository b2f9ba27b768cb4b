import { describe, expect, it } from "vitest";
import { AttemptReport } from "../../shared/app/attempt-report.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import { queuedRun } from "../support/fixtures.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const run = queuedRun(NOW);

describe("AttemptReport", () => {
  it("replaces feedback by default and appends lines in append mode", () => {
    const report = new AttemptReport(run);
    report.feedback("one");
    report.feedback("two", { mode: "append" });
    report.feedback("three", { mode: "append" });
    expect(report.takePatch().feedback).toBe("one\ntwo\nthree");
    report.feedback("fresh", { mode: "replace" });
    expect(report.takePatch().feedback).toBe("fresh");
  });

  it("continues the feedback of an earlier attempt", () => {
    const report = new AttemptReport({ ...run, feedback: "attempt 1 line" });
    report.feedback("attempt 2 line", { mode: "append" });
    expect(report.takePatch().feedback).toBe("attempt 1 line\nattempt 2 line");
  });

  it("is dirty only until its patch is taken", () => {
    const report = new AttemptReport(run);
    expect(report.dirty).toBe(false);
    report.progress(0.5);
    expect(report.dirty).toBe(true);
    expect(report.takePatch().progress).toBe(0.5);
    expect(report.dirty).toBe(false);
  });

  it("leaves unchanged logs out of a flush during the attempt, but not out of its last patch", () => {
    const report = new AttemptReport(run);
    report.log("first", NOW);
    expect(report.takePatch({ changedLogsOnly: true }).logs).toEqual([
      { at: NOW.toISOString(), line: "first" },
    ]);
    report.progress(0.5);
    expect(report.takePatch({ changedLogsOnly: true })).toEqual({ progress: 0.5 });
    expect(report.takePatch().logs).toEqual([{ at: NOW.toISOString(), line: "first" }]);
  });

  it("clamps progress and rejects non-numbers", () => {
    const report = new AttemptReport(run);
    report.progress(7);
    expect(report.takePatch().progress).toBe(1);
    expect(() => report.progress(Number.NaN)).toThrow(RangeError);
  });

  it("bounds logs, dropping the oldest lines and counting them", () => {
    const report = new AttemptReport(run);
    const line = "x".repeat(1_000);
    const lines = 100;
    for (let i = 0; i < lines; i += 1) report.log(`${i}:${line}`, NOW);
    const patch = report.takePatch();
    const kept = patch.logs ?? [];
    const chars = kept.reduce((sum, entry) => sum + entry.line.length, 0);
    expect(chars).toBeLessThanOrEqual(LIMITS.logChars);
    expect(kept.length + (patch.logsDropped ?? 0)).toBe(lines);
    expect(kept.at(-1)?.line.startsWith("99:")).toBe(true);
  });

  it("keeps the end of feedback that outgrows its limit", () => {
    const report = new AttemptReport(run);
    report.feedback("a".repeat(LIMITS.feedbackChars));
    report.feedback("the end", { mode: "append" });
    const feedback = report.takePatch().feedback ?? "";
    expect(feedback.length).toBe(LIMITS.feedbackChars);
    expect(feedback.endsWith("the end")).toBe(true);
  });
});
