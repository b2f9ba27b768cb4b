/** How `baton watch` and friends word a run: English sentences, attempts and pending retries. */
import { describe, expect, it } from "vitest";
import { attemptsNote, endSummary, statusSentence } from "../../cli/render.ts";
import { RUN_STATUS_NAMES, type TaskView } from "../../shared/client/index.ts";

const run = (fields: Partial<TaskView>) =>
  ({
    taskId: "tk-1",
    status: "running",
    attempts: 1,
    maxAttempts: 3,
    error: null,
    nextAttemptAt: null,
    startedAt: "2026-11-30T10:00:00.000Z",
    endedAt: null,
    output: null,
    ...fields,
  }) as TaskView;

describe("statusSentence", () => {
  it("reads as English for every status", () => {
    expect(statusSentence("tk-1", "succeeded")).toBe("task tk-1 has succeeded");
    expect(statusSentence("tk-1", "timed_out")).toBe("task tk-1 has timed out");
    expect(statusSentence("tk-1", "cancelled")).toBe("task tk-1 was cancelled");
    expect(statusSentence("tk-1", "awaiting")).toBe("task tk-1 is awaiting its callback");
    for (const status of RUN_STATUS_NAMES) expect(statusSentence("tk-1", status)).not.toContain("_");
  });
});

describe("attemptsNote", () => {
  it("says nothing before the first attempt, then which attempt of how many", () => {
    expect(attemptsNote(run({ status: "queued", attempts: 0 }))).toBeUndefined();
    expect(attemptsNote(run({ attempts: 2 }))).toBe("attempt 2 of 3");
  });

  it("names the failed attempt and when the retry is due while the run waits for it", () => {
    const retrying = run({
      status: "queued",
      attempts: 1,
      error: { code: "handler_error", message: "flaky" } as TaskView["error"],
      nextAttemptAt: "2026-11-30T10:41:07.123Z",
    });
    expect(attemptsNote(retrying)).toBe("attempt 1 of 3 failed (handler_error: flaky); retrying at 10:41:07");
  });
});

describe("endSummary", () => {
  it("counts attempts when a run took more than one", () => {
    const ended = run({
      status: "succeeded",
      attempts: 2,
      endedAt: "2026-11-30T10:00:02.500Z",
      output: { ok: true },
    });
    expect(endSummary(ended)).toBe('task tk-1 has succeeded in 2.5 s after 2 attempts\noutput: {"ok":true}');
    expect(endSummary(run({ status: "succeeded", endedAt: "2026-11-30T10:00:01.000Z" }))).toBe(
      "task tk-1 has succeeded in 1.0 s",
    );
  });
});
