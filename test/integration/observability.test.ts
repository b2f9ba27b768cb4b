/**
 * Logs and metrics of real runs on the local stack: every line logged while a run is processed
 * names its tenant and task, and the run metrics match what the runs did, once per run, however
 * often a message is delivered or an end is attempted again.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { endRun } from "../../shared/app/engine.ts";
import { succeededEnding } from "../../shared/core/lifecycle.ts";
import type { Log } from "../../shared/core/ports.ts";
import { startTask, startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

interface Line {
  level: string;
  message: string;
  fields: Record<string, unknown>;
}

const lines: Line[] = [];
const capture =
  (level: string) =>
  (message: string, ...extra: Record<string, unknown>[]) => {
    lines.push({ level, message, fields: Object.assign({}, ...extra) });
  };
const capturingLog: Log = {
  debug: capture("debug"),
  info: capture("info"),
  warn: capture("warn"),
  error: capture("error"),
};

const metricsFile = join(mkdtempSync(join(tmpdir(), "baton-obs-")), "metrics.log");
let stack: TestStack;

// biome-ignore lint/suspicious/noExplicitAny: EMF records are JSON
function emfRecords(): any[] {
  return readFileSync(metricsFile, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

const start = (definition: string, extra: Record<string, unknown> = {}): Promise<string> =>
  startTask(stack, { definition, ...extra });

beforeAll(async () => {
  stack = await startTestStack({ log: capturingLog, metricsFile });
  const define = async (name: string, body: Record<string, unknown>) =>
    expect((await stack.request("PUT", `/v1/definitions/${name}`, { body })).status).toBe(201);
  await define("echo", { handler: "echo" });
  await define("flaky", { handler: "fail", maxAttempts: 2 });
  await define("stuck", { handler: "hang", timeoutSeconds: 1 });
});

afterAll(async () => {
  await stack?.stop();
});

describe("observability of runs", () => {
  it("logs name the run on every line, and metrics count each run once", async () => {
    lines.length = 0;
    const echoes = [
      await start("echo", { params: { n: 1 }, idempotencyKey: "obs-1" }),
      await start("echo", { params: { n: 2 } }),
      await start("echo", { params: { n: 3 } }),
    ];
    // The same idempotent start again returns the first run and starts nothing.
    expect(await start("echo", { params: { n: 1 }, idempotencyKey: "obs-1" })).toBe(echoes[0]);
    const flaky = await start("flaky");
    const stuck = await start("stuck");
    const later = await start("echo", { after: 3_600_000 });
    expect((await stack.request("POST", `/v1/tasks/${later}/cancel`)).status).toBe(200);

    const views = new Map<string, Awaited<ReturnType<typeof waitForEnd>>>();
    for (const id of [...echoes, flaky, stuck, later]) views.set(id, await waitForEnd(stack, id));
    expect([...views.values()].map((view) => view.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
      "failed",
      "timed_out",
      "cancelled",
    ]);
    expect(views.get(flaky).attempts).toBe(2);

    // Counts: one per run, by how it ended; the failed run counts once for its two attempts.
    const counts = () =>
      Object.fromEntries(Object.entries(stack.metrics.totals()).map(([name, total]) => [name, total?.sum]));
    const expected = {
      RunsStarted: 6,
      RunsSucceeded: 3,
      RunsFailed: 1,
      RunsTimedOut: 1,
      RunsCancelled: 1,
    };
    // A metric follows its write, and the file's line follows the metric: poll for both.
    await expect.poll(counts, { timeout: 10_000 }).toMatchObject(expected);

    // Queue wait: once per run that a worker claimed, from acceptance to its first claim.
    const claimedRuns = [...echoes, flaky, stuck];
    // Each claimed run writes a QueueWait line and a RunTime line.
    await expect
      .poll(() => emfRecords().filter((record) => "QueueWait" in record || "RunTime" in record).length, {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(2 * claimedRuns.length);
    const records = emfRecords();
    for (const id of claimedRuns) {
      const view = views.get(id);
      const waits = records.filter((record) => record.taskId === id && "QueueWait" in record);
      expect(waits, `queue wait of ${id}`).toHaveLength(1);
      expect(waits[0].QueueWait).toBe(Date.parse(view.startedAt) - Date.parse(view.createdAt));
      expect(waits[0].QueueWait).toBeGreaterThanOrEqual(0);
      expect(waits[0].QueueWait).toBeLessThan(20_000);
      expect(waits[0]).toMatchObject({ tenant: "acme", definition: view.definition });
      // Run time: from first claim to end, in the record that counted the end.
      const ends = records.filter((record) => record.taskId === id && "RunTime" in record);
      expect(ends, `run time of ${id}`).toHaveLength(1);
      expect(ends[0].RunTime).toBe(Date.parse(view.endedAt) - Date.parse(view.startedAt));
    }
    expect(records.filter((record) => "QueueWait" in record)).toHaveLength(claimedRuns.length);
    // The stuck run ran its whole 1 s timeout; the flaky one waited out a backoff of at least 0.5 s.
    expect(
      records.find((record) => record.taskId === stuck && "RunTime" in record).RunTime,
    ).toBeGreaterThanOrEqual(1_000);
    expect(
      records.find((record) => record.taskId === flaky && "RunTime" in record).RunTime,
    ).toBeGreaterThanOrEqual(500);
    // The cancelled run never started: counted, with no run time.
    expect(
      records.filter((record) => record.taskId === later).map((record) => Object.keys(record).sort()),
    ).toEqual([expect.arrayContaining(["RunsStarted"]), expect.arrayContaining(["RunsCancelled"])]);
    expect(records.filter((record) => record.taskId === later && "RunTime" in record)).toEqual([]);

    // Logs: lines were written about these runs, and every one of them names tenant and task.
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line.fields, `${line.level} "${line.message}"`).toMatchObject({
        tenant: "acme",
        taskId: expect.any(String),
      });
    }
    // The handler's own ctx.log lines go out structured too, with definition and attempt.
    const handlerLines = lines.filter(
      (line) => line.fields.source === "handler" && line.fields.taskId === flaky,
    );
    expect(handlerLines.map((line) => [line.message, line.fields.definition, line.fields.attempt])).toEqual([
      ["fail on attempt 1", "flaky", 1],
      ["fail on attempt 2", "flaky", 2],
    ]);
    expect(lines.find((line) => line.message === "handler failed")?.fields).toMatchObject({
      tenant: "acme",
      taskId: flaky,
      definition: "flaky",
      attempt: 1,
    });
    expect(lines.find((line) => line.message === "attempt timed_out")?.fields).toMatchObject({
      taskId: stuck,
      definition: "stuck",
      attempt: 1,
    });

    // A duplicate delivery of a finished run is acknowledged, logged with its keys, and not counted.
    await stack.services.queue.enqueue({ tenant: "acme", runId: echoes[1] as string }, "duplicate-1");
    await waitFor(
      async () =>
        lines.find((line) => line.fields.taskId === echoes[1] && line.message === "message needs no work") ??
        undefined,
      20_000,
      "the duplicate to be consumed",
    );
    // An end attempted again (a worker that lost its claim, a repeated callback) changes nothing.
    const stored = await stack.services.runs.get({ tenant: "acme", id: echoes[2] as string });
    if (stored === undefined) throw new Error("run vanished");
    const stale = { ...stored, status: "running" as const };
    const again = await endRun(stack.services, stale, {
      guard: { status: "running", attempts: stored.attempts },
      ...succeededEnding(stale, { again: true }, new Date()),
    });
    expect(again).toBe(false);
    expect(counts()).toMatchObject(expected);
    expect(emfRecords()).toHaveLength(records.length);
  });

  it("a request's log lines name the request, its route, the caller's tenant and the task", async () => {
    const taskId = await start("echo");
    await waitForEnd(stack, taskId);
    lines.length = 0;
    // A store that fails makes the api log the request's failure (and answer 500).
    const runs = stack.services.runs;
    const get = runs.get;
    runs.get = async () => {
      throw new Error("store unavailable");
    };
    try {
      const { status, body } = await stack.request("GET", `/v1/tasks/${taskId}`);
      expect(status).toBe(500);
      expect(body.error).toBe("internal_error");
    } finally {
      runs.get = get;
    }
    const failure = lines.find((line) => line.message === "request failed");
    expect(failure?.fields).toMatchObject({
      tenant: "acme",
      taskId,
      route: `GET /v1/tasks/${taskId}`,
      requestId: expect.any(String),
      keyId: expect.any(String),
    });
  });

  it("a workflow run counts like a run, and so does each of its steps", async () => {
    const before = stack.metrics.totals();
    const put = await stack.request("PUT", "/v1/definitions/two-steps", {
      body: {
        kind: "workflow",
        steps: [
          { id: "a", definition: "echo" },
          { id: "b", definition: "flaky", dependsOn: ["a"] },
          { id: "c", definition: "echo", dependsOn: ["b"] },
        ],
      },
    });
    expect(put.status).toBe(201);
    const workflowId = await start("two-steps");
    const workflow = await waitForEnd(stack, workflowId);
    expect(workflow.status).toBe("failed");
    // Step c never started: the workflow, a and b started; a succeeded; b and the workflow failed.
    await waitFor(
      async () =>
        (stack.metrics.totals().RunsFailed?.sum ?? 0) >= (before.RunsFailed?.sum ?? 0) + 2 ? true : undefined,
      20_000,
      "the step and the workflow to be counted",
    );
    const grew = (name: "RunsStarted" | "RunsSucceeded" | "RunsFailed") =>
      (stack.metrics.totals()[name]?.sum ?? 0) - (before[name]?.sum ?? 0);
    expect({
      started: grew("RunsStarted"),
      succeeded: grew("RunsSucceeded"),
      failed: grew("RunsFailed"),
    }).toEqual({
      started: 3,
      succeeded: 1,
      failed: 2,
    });
    const workflowEndOf = () =>
      emfRecords().find((record) => record.taskId === workflowId && "RunsFailed" in record);
    await expect.poll(workflowEndOf, { timeout: 10_000 }).toBeDefined();
    const workflowEnd = workflowEndOf();
    expect(workflowEnd).toMatchObject({ definition: "two-steps", tenant: "acme" });
    expect(workflowEnd.RunTime).toBe(Date.parse(workflow.endedAt) - Date.parse(workflow.startedAt));
  });

  it("a delayed start that finds its waiting line full counts as failed, with no run time", async () => {
    const put = await stack.request("PUT", "/v1/definitions/narrow", {
      // A long timeout: the slot must stay taken until the delayed start falls due, however slow the machine.
      body: { handler: "hang", timeoutSeconds: 60, maxConcurrency: 1, maxQueueLength: 1 },
    });
    expect(put.status).toBe(201);
    const holder = await start("narrow"); // takes the one slot
    const waiting = await start("narrow"); // fills the waiting line
    const late = await start("narrow", { after: 200 });
    const view = await waitForEnd(stack, late);
    expect(view.error.code).toBe("queue_full");
    // The metric follows the end's write, so the API may show the end a moment before it.
    const records = await waitFor(async () => {
      const found = emfRecords().filter((record) => record.taskId === late);
      return found.length >= 2 ? found : undefined;
    });
    expect(
      records.map((record) =>
        "RunsStarted" in record ? "started" : "RunsFailed" in record ? "failed" : "?",
      ),
    ).toEqual(["started", "failed"]);
    expect(records[1]).not.toHaveProperty("RunTime");
    for (const id of [waiting, holder]) await stack.request("POST", `/v1/tasks/${id}/cancel`);
  });
});
