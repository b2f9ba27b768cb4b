/** A run's live events: the diff of two reads of a run, the frames that open a stream, and SSE framing. */
import { describe, expect, it } from "vitest";
import type { Run } from "../../shared/core/run.ts";
import {
  logCursorOf,
  numberedEventsBetween,
  openingEvents,
  parseLastEventId,
  runEventsBetween,
  sseComment,
  sseFrame,
} from "../../shared/core/run-events.ts";
import { queuedRun } from "../support/fixtures.ts";

const NOW = new Date("2026-01-01T00:00:00.000Z");
const queued = queuedRun(NOW);
const line = (n: number) => ({ at: `2026-01-01T00:00:0${n}.000Z`, line: `line ${n}` });
const with_ = (fields: Partial<Run>): Run => ({ ...queued, ...fields });

describe("runEventsBetween", () => {
  it("says nothing when nothing a watcher sees changed", () => {
    expect(runEventsBetween(queued, with_({ updatedAt: "later" }))).toEqual([]);
  });

  it("names each change once, in a fixed order: attempt, status, progress, feedback, subtext, logs", () => {
    const running = with_({
      status: "running",
      attempts: 1,
      progress: 0.5,
      feedback: "half",
      subtext: "step 2",
      logs: [line(1), line(2)],
    });
    expect(runEventsBetween(queued, running)).toEqual([
      { type: "attempt", attempt: 1 },
      { type: "status", status: "running", attempt: 1 },
      { type: "progress", progress: 0.5 },
      { type: "feedback", feedback: "half" },
      { type: "subtext", subtext: "step 2" },
      { type: "log", ...line(1) },
      { type: "log", ...line(2) },
    ]);
    // Progress back to 0 is a change; a field that disappeared is not an event.
    expect(runEventsBetween(running, { ...running, progress: 0, feedback: undefined })).toEqual([
      { type: "progress", progress: 0 },
    ]);
  });

  it("sends only the log lines after the ones seen, counting lines the run dropped past its bound", () => {
    const before = with_({ status: "running", logs: [line(1), line(2), line(3)], logsDropped: 0 });
    // Two lines dropped from the front, two new ones at the end: kept are 3, 4, 5.
    const after = with_({ status: "running", logs: [line(3), line(4), line(5)], logsDropped: 2 });
    expect(runEventsBetween(before, after)).toEqual([
      { type: "log", ...line(4) },
      { type: "log", ...line(5) },
    ]);
    // Lines dropped before the watcher saw them are gone; the kept ones all come.
    const far = with_({ status: "running", logs: [line(7), line(8)], logsDropped: 6 });
    expect(runEventsBetween(before, far).map((event) => event.type)).toEqual(["log", "log"]);
  });

  it("ends with `end` (and no terminal `status`) when the run ends, once", () => {
    const running = with_({ status: "running", attempts: 1 });
    const failed = with_({
      status: "failed",
      attempts: 1,
      error: { code: "handler_error", message: "boom" },
    });
    expect(runEventsBetween(running, failed)).toEqual([
      { type: "end", status: "failed", output: null, error: { code: "handler_error", message: "boom" } },
    ]);
    expect(runEventsBetween(failed, { ...failed, subtext: "later" })).toEqual([
      { type: "subtext", subtext: "later" },
    ]);
    const succeeded = with_({ status: "succeeded", attempts: 1, output: { n: 1 } });
    expect(runEventsBetween(running, succeeded).at(-1)).toEqual({
      type: "end",
      status: "succeeded",
      output: { n: 1 },
      error: null,
    });
  });

  it("numbers every frame with the log position once it is sent", () => {
    const before = with_({ status: "running", logs: [line(1)] });
    const after = with_({ status: "running", progress: 0.2, logs: [line(1), line(2), line(3)] });
    expect(numberedEventsBetween(before, after).map(({ event, id }) => [event.type, id])).toEqual([
      ["progress", 1],
      ["log", 2],
      ["log", 3],
    ]);
    expect(logCursorOf(after)).toBe(3);
  });
});

describe("openingEvents", () => {
  it("start with a snapshot, then the kept log lines, then the end of a run that has ended", () => {
    const ended = with_({
      status: "succeeded",
      attempts: 1,
      progress: 1,
      logs: [line(1), line(2)],
      output: "ok",
    });
    expect(openingEvents(ended).map(({ event, id }) => [event.type, id])).toEqual([
      ["snapshot", 0],
      ["log", 1],
      ["log", 2],
      ["end", 2],
    ]);
    expect(openingEvents(ended)[0]?.event).toEqual({
      type: "snapshot",
      status: "succeeded",
      attempt: 1,
      progress: 1,
      feedback: null,
      subtext: null,
    });
  });

  it("skip the log lines a reconnecting watcher has seen (its Last-Event-ID)", () => {
    const running = with_({ status: "running", logs: [line(1), line(2), line(3)] });
    expect(openingEvents(running, 2).map(({ event, id }) => [event.type, id])).toEqual([
      ["snapshot", 2],
      ["log", 3],
    ]);
    // A position past the end (made up) sends no lines and numbers the snapshot with the real end.
    expect(openingEvents(running, 99).map(({ event, id }) => [event.type, id])).toEqual([["snapshot", 3]]);
  });
});

describe("framing", () => {
  it("writes one frame per event, its data one line of JSON whatever the text holds", () => {
    const frame = sseFrame({ type: "log", at: "t", line: "two\nlines\r\nand: colons" }, 7);
    expect(frame).toBe(
      'id: 7\nevent: log\ndata: {"type":"log","at":"t","line":"two\\nlines\\r\\nand: colons"}\n\n',
    );
    expect(frame.split("\n\n")).toHaveLength(2);
    expect(sseComment("a\nb")).toBe(": a b\n\n");
  });

  it("reads Last-Event-ID as a log position, and anything else as a new watcher", () => {
    expect(parseLastEventId("12")).toBe(12);
    expect(parseLastEventId(" 0 ")).toBe(0);
    for (const bad of [undefined, "", "-1", "1.5", "x", "9".repeat(40)])
      expect(parseLastEventId(bad)).toBeUndefined();
  });
});
