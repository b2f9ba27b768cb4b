/** Attempt history: each failed attempt's record (bounded stack), and the last attempt derived from the run. */
import { describe, expect, it } from "vitest";
import { attemptHistory } from "../../shared/app/attempt-history.ts";
import { processDelivery } from "../../shared/app/worker.ts";
import {
  ATTEMPT_STACK_BYTES,
  ATTEMPT_STACK_FRAMES,
  attemptHistoryOf,
  boundedStack,
  WORKER_FRAMES,
} from "../../shared/core/attempts.ts";
import { requeueAbandoned } from "../../shared/core/lifecycle.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import { defineTask } from "../../shared/core/task.ts";
import { appHarness } from "../support/memory-app.ts";

const delivery = (runId: string) => ({
  messageId: `m-${runId}`,
  body: JSON.stringify({ v: 1, tenant: "acme", runId }),
  receipt: { lane: "fair", handle: `rh-${runId}` } as const,
});

describe("boundedStack", () => {
  it("keeps the header and at most 50 frames and 4 KB, cut at a line, saying how much was cut", () => {
    const error = new Error("deep");
    error.stack = [
      "Error: deep",
      ...Array.from({ length: 200 }, (_, i) => `    at frame${i} (/var/task/${"x".repeat(60)}.js:${i}:1)`),
    ].join("\n");
    const stack = boundedStack(error) ?? "";
    expect(stack.startsWith("Error: deep\n    at frame0 ")).toBe(true);
    expect(Buffer.byteLength(stack, "utf8")).toBeLessThanOrEqual(ATTEMPT_STACK_BYTES);
    const frames = stack.split("\n").filter((line) => line.startsWith("    at frame"));
    expect(frames.length).toBeLessThanOrEqual(ATTEMPT_STACK_FRAMES);
    expect(frames.length).toBeGreaterThan(10);
    expect(stack).toMatch(/… \d+ more lines$/);

    const short = new Error("shallow");
    short.stack = "Error: shallow\n    at one (a.js:1:1)";
    expect(boundedStack(short)).toBe("Error: shallow\n    at one (a.js:1:1)");
    short.stack =
      "Error: shallow\n    at one (a.js:1:1)\n    at async runHandler (worker.js:9:9)\n    at loop (worker.js:1:1)";
    expect(boundedStack(short, " runHandler (")).toBe(
      `Error: shallow\n    at one (a.js:1:1)\n${WORKER_FRAMES}`,
    );
    // Only an Error's own stack is read: anything else thrown has none.
    expect(boundedStack({ stack: "not an error" })).toBeUndefined();
    expect(boundedStack("text")).toBeUndefined();
  });
});

describe("attempt history", () => {
  it("records each failed attempt with its error, name and the handler's stack, and derives the last from the run", async () => {
    const typed = defineTask({
      handler: "typed-fail",
      async run(ctx) {
        if (ctx.attempt === 1) throw new TypeError("cannot read properties of undefined");
        return { ok: true };
      },
    });
    const h = appHarness({ handlers: [typed], random: () => 0 });
    await h.define("typed", { handler: "typed-fail", maxAttempts: 2 });
    const run = await h.start({ definition: "typed" });
    h.clock.advance(100);
    expect(await processDelivery(h.svc, delivery(run.id))).toMatchObject({ kind: "later" });
    h.clock.advance(5_000);
    await processDelivery(h.svc, delivery(run.id));
    h.clock.advance(40);

    const done = await h.run(run.id);
    expect(done.status).toBe("succeeded");
    const history = await attemptHistory(h.svc, done);
    expect(history).toHaveLength(2);
    expect(history[0]).toMatchObject({
      attempt: 1,
      startedAt: "2026-01-01T00:00:00.100Z",
      endedAt: "2026-01-01T00:00:00.100Z",
      durationMs: 0,
      outcome: "failed",
      error: { code: "handler_error", name: "TypeError", message: "cannot read properties of undefined" },
    });
    expect(history[0]?.error?.stack).toMatch(/^TypeError: cannot read properties of undefined\n\s+at /);
    // The handler's own frames, then one line for the worker's: nothing of Baton's internals.
    const frames = history[0]?.error?.stack?.split("\n") ?? [];
    expect(frames[1]).toContain("attempts.test.ts");
    expect(frames.at(-1)).toBe(WORKER_FRAMES);
    expect(frames.some((line) => line.includes("worker.ts"))).toBe(false);
    expect(history[1]).toEqual({
      attempt: 2,
      startedAt: "2026-01-01T00:00:05.100Z",
      endedAt: "2026-01-01T00:00:05.100Z",
      durationMs: 0,
      outcome: "succeeded",
      error: null,
    });
  });

  it("writes no record for a run that succeeds at once, and no stack for Baton's own refusals", async () => {
    const big = defineTask({
      handler: "big-output",
      run: async () => ({ blob: "x".repeat(LIMITS.outputBytes + 1) }),
    });
    const h = appHarness({ handlers: [big] });
    await h.define("echo", { handler: "echo" });
    await h.define("big", { handler: "big-output", maxAttempts: 3 });
    await h.define("fail", { handler: "fail", maxAttempts: 2 });
    const plain = await h.start({ definition: "echo" });
    const failing = await h.start({ definition: "fail" });
    await h.settle();
    expect(await h.runs.attemptRecords(plain)).toEqual([]);
    expect(await attemptHistory(h.svc, await h.run(plain.id))).toMatchObject([
      { attempt: 1, outcome: "succeeded", error: null },
    ]);
    const failed = await attemptHistory(h.svc, await h.run(failing.id));
    expect(failed.map((attempt) => [attempt.attempt, attempt.outcome, attempt.error?.message])).toEqual([
      [1, "failed", "fail on attempt 1"],
      [2, "failed", "fail on attempt 2"],
    ]);
    expect(failed.every((attempt) => attempt.error?.stack?.includes("fail on attempt") === true)).toBe(true);

    // Baton's own refusal (output too large) is recorded without a stack: it is not the handler's.
    const tooBig = await h.start({ definition: "big" });
    await h.settle();
    expect(await h.runs.attemptRecords(tooBig)).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: "failed",
        // Exactly the refusal's code and message: no stack, and not a missing error either.
        error: { code: "output_too_large", message: expect.any(String) },
      }),
    ]);
  });

  it("records an attempt whose worker was lost, and shows a run from before records with its error only", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo", maxAttempts: 3 });
    const run = await h.start({ definition: "echo" });
    const running = {
      ...(await h.run(run.id)),
      status: "running" as const,
      attempts: 1,
      attemptStartedAt: "2026-01-01T00:00:00.000Z",
    };
    const lost = requeueAbandoned(running, new Date("2026-01-01T00:05:00.000Z"));
    expect(lost.patch.failedAttempt).toEqual({
      attempt: 1,
      startedAt: "2026-01-01T00:00:00.000Z",
      endedAt: "2026-01-01T00:05:00.000Z",
      outcome: "worker_lost",
      error: { code: "worker_lost", message: "the worker stopped responding during attempt 1" },
    });
    const legacy = {
      ...running,
      status: "failed" as const,
      endedAt: "2026-01-01T00:01:00.000Z",
      error: { code: "handler_error" as const, message: "old" },
    };
    expect(attemptHistoryOf(legacy, [])).toEqual([
      {
        attempt: 1,
        startedAt: "2026-01-01T00:00:00.000Z",
        endedAt: "2026-01-01T00:01:00.000Z",
        durationMs: 60_000,
        outcome: "failed",
        error: { code: "handler_error", message: "old" },
      },
    ]);
  });
});
