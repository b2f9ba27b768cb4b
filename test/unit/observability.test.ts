/**
 * The pieces of observability that need no emulator: which values a run's events yield, the EMF
 * records the AWS and local adapters write, and the log context that names the run on each line.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LocalMetrics } from "../../local/local-metrics.ts";
import { addLogContext, contextualLog, withLogContext } from "../../shared/app/log-context.ts";
import { EmfMetrics } from "../../shared/aws/emf-metrics.ts";
import { newRun } from "../../shared/core/lifecycle.ts";
import type { Log } from "../../shared/core/ports.ts";
import type { Run } from "../../shared/core/run.ts";
import { claimedValues, endedValues, labelsOf } from "../../shared/core/run-metrics.ts";
import { reportDefinition } from "../support/fixtures.ts";

const NOW = new Date("2026-01-01T12:00:00.000Z");
const at = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
const definition = reportDefinition({ createdAt: NOW.toISOString(), updatedAt: NOW.toISOString() });
const queued = newRun({ tenant: "acme", id: "r1", definition, params: {}, createdBy: "k1" }, "queued", NOW);
const claimed = (overrides: Partial<Run> = {}): Run => ({
  ...queued,
  status: "running",
  attempts: 1,
  startedAt: at(250),
  attemptStartedAt: at(250),
  ...overrides,
});

describe("run metric values", () => {
  it("queue wait runs from acceptance to the first claim", () => {
    expect(claimedValues(claimed())).toEqual({ QueueWait: 250 });
  });

  it("a delayed start waits from when it fell due, not from when it was accepted", () => {
    const delayed = claimed({ scheduledFor: at(200) });
    expect(claimedValues(delayed)).toEqual({ QueueWait: 50 });
  });

  it("a retry or a re-claim after a lost worker is no queue wait: each run has one", () => {
    expect(claimedValues(claimed({ attempts: 2, attemptStartedAt: at(5_000) }))).toBeUndefined();
  });

  it("a clock behind by a little gives zero, never a negative wait", () => {
    expect(claimedValues(claimed({ startedAt: at(-30), attemptStartedAt: at(-30) }))).toEqual({
      QueueWait: 0,
    });
  });

  it("an end counts once by its status, with the time from first claim to end", () => {
    const running = claimed();
    expect(endedValues(running, "succeeded", at(1_250))).toEqual({ RunsSucceeded: 1, RunTime: 1_000 });
    expect(endedValues(running, "failed", at(450))).toEqual({ RunsFailed: 1, RunTime: 200 });
    expect(endedValues(running, "timed_out", at(2_250))).toEqual({ RunsTimedOut: 1, RunTime: 2_000 });
    expect(endedValues(running, "cancelled", at(300))).toEqual({ RunsCancelled: 1, RunTime: 50 });
  });

  it("a run that never started ends with a count and no run time", () => {
    expect(endedValues(queued, "cancelled", at(10))).toEqual({ RunsCancelled: 1 });
  });

  it("moves that are no end (a retry, awaiting a callback) yield nothing", () => {
    expect(endedValues(claimed(), "queued", undefined)).toBeUndefined();
    expect(endedValues(claimed(), "awaiting", undefined)).toBeUndefined();
    expect(endedValues(claimed(), undefined, undefined)).toBeUndefined();
  });

  it("labels name tenant, task and definition, and the attempt once there is one", () => {
    expect(labelsOf(queued)).toEqual({ tenant: "acme", taskId: "r1", definition: "report" });
    expect(labelsOf(claimed({ attempts: 2 }))).toEqual({
      tenant: "acme",
      taskId: "r1",
      definition: "report",
      attempt: 2,
    });
  });
});

/** What CloudWatch requires of an EMF record, checked field by field. */
function expectValidEmf(record: Record<string, unknown>, values: Record<string, number>): void {
  const aws = record._aws as {
    Timestamp: unknown;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  expect(typeof aws.Timestamp).toBe("number");
  expect(aws.CloudWatchMetrics).toHaveLength(1);
  const [directive] = aws.CloudWatchMetrics;
  expect(directive?.Namespace).toBe("Baton");
  expect(directive?.Dimensions).toEqual([["service", "definition"], ["service"]]);
  // Every dimension named has a string value at the top level.
  for (const name of directive?.Dimensions.flat() ?? []) expect(typeof record[name]).toBe("string");
  expect(directive?.Metrics.map((metric) => metric.Name).sort()).toEqual(Object.keys(values).sort());
  for (const metric of directive?.Metrics ?? []) {
    expect(metric.Unit).toBe(metric.Name.startsWith("Runs") ? "Count" : "Milliseconds");
    expect(record[metric.Name]).toBe(values[metric.Name]);
  }
}

describe("EmfMetrics (CloudWatch Embedded Metric Format on stdout)", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("writes one valid EMF line per event: definition a dimension, tenant and task only properties", () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const metrics = new EmfMetrics();
    metrics.record(
      { tenant: "acme", taskId: "r1", definition: "report", attempt: 2 },
      {
        RunsSucceeded: 1,
        RunTime: 1_234,
      },
    );
    metrics.record({ tenant: "globex", taskId: "r2", definition: "mail" }, { RunsStarted: 1 });
    vi.restoreAllMocks();

    const records = lines
      .flatMap((line) => line.split("\n").filter((part) => part !== ""))
      .map((line) => JSON.parse(line));
    expect(records).toHaveLength(2);
    const [succeeded, started] = records;
    expectValidEmf(succeeded, { RunsSucceeded: 1, RunTime: 1_234 });
    expect(succeeded).toMatchObject({
      service: "baton",
      definition: "report",
      tenant: "acme",
      taskId: "r1",
      attempt: "2",
    });
    // The second record carries only its own values and labels: nothing leaks from the first.
    expectValidEmf(started, { RunsStarted: 1 });
    expect(started).toMatchObject({ definition: "mail", tenant: "globex", taskId: "r2" });
    expect(started).not.toHaveProperty("RunTime");
    expect(started).not.toHaveProperty("attempt");
  });

  it("locally, the same records go to the metrics file, and totals add up", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "baton-metrics-")), "metrics.log");
    const metrics = new LocalMetrics({ file });
    const labels = { tenant: "acme", taskId: "r1", definition: "report" };
    metrics.record(labels, { RunsStarted: 1 });
    metrics.record(labels, { QueueWait: 40 });
    metrics.record(labels, { RunsSucceeded: 1, RunTime: 900 });
    metrics.record({ ...labels, taskId: "r2" }, { RunsFailed: 1, RunTime: 3_000 });
    await metrics.close();

    const records = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(records).toHaveLength(4);
    expectValidEmf(records[2], { RunsSucceeded: 1, RunTime: 900 });
    expect(metrics.totals()).toEqual({
      RunsStarted: { samples: 1, sum: 1, min: 1, max: 1 },
      QueueWait: { samples: 1, sum: 40, min: 40, max: 40 },
      RunsSucceeded: { samples: 1, sum: 1, min: 1, max: 1 },
      RunsFailed: { samples: 1, sum: 1, min: 1, max: 1 },
      RunTime: { samples: 2, sum: 3_900, min: 900, max: 3_000 },
    });
    expect(metrics.takeSummary()).toBe(
      "runs: 1 started, 1 succeeded, 1 failed; queue wait p50 40 ms p99 40 ms; run time p50 900 ms p99 3.0 s",
    );
    // The summary covers one interval: nothing happened since.
    expect(metrics.takeSummary()).toBeUndefined();
  });
});

describe("log context", () => {
  function capture(): {
    log: Log;
    lines: { level: string; message: string; fields: Record<string, unknown> }[];
  } {
    const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
    const at =
      (level: string) =>
      (message: string, ...extra: Record<string, unknown>[]) =>
        lines.push({ level, message, fields: Object.assign({}, ...extra) });
    return { log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }, lines };
  }

  it("puts the keys of the run being processed on every line, across awaits and timers", async () => {
    const { log: inner, lines } = capture();
    const log = contextualLog(inner);
    log.info("outside");
    await withLogContext({ tenant: "acme", taskId: "r1" }, async () => {
      addLogContext({ attempt: 2 });
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.warn("inside", { extra: true });
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          log.error("from a timer");
          resolve();
        }, 5),
      );
    });
    expect(lines).toEqual([
      { level: "info", message: "outside", fields: {} },
      { level: "warn", message: "inside", fields: { tenant: "acme", taskId: "r1", attempt: 2, extra: true } },
      { level: "error", message: "from a timer", fields: { tenant: "acme", taskId: "r1", attempt: 2 } },
    ]);
  });

  it("keeps concurrent runs apart, and a line about another run may name it explicitly", async () => {
    const { log: inner, lines } = capture();
    const log = contextualLog(inner);
    const work = (taskId: string, delay: number) =>
      withLogContext({ tenant: "acme", taskId }, async () => {
        await new Promise((resolve) => setTimeout(resolve, delay));
        log.info("done");
      });
    await Promise.all([work("slow", 20), work("fast", 1)]);
    await withLogContext({ tenant: "acme", taskId: "r1" }, async () =>
      log.info("promoted", { taskId: "r9" }),
    );
    expect(lines.map((line) => line.fields.taskId)).toEqual(["fast", "slow", "r9"]);
  });
});
