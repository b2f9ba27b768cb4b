/** Delayed starts (`at`, `after`) on the local stack, where the scheduled runs are the timers. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTriggerHandler } from "../../functions/trigger/handler.ts";
import { startDue } from "../../shared/app/engine.ts";
import type { Services } from "../../shared/app/services.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3 });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
});
afterAll(async () => {
  await stack?.stop();
});

const start = (body: Record<string, unknown>) =>
  stack.request("POST", "/v1/tasks", { body: { definition: "echo", ...body } });
const status = async (id: string) => (await stack.request("GET", `/v1/tasks/${id}`)).body;

describe("delayed starts", () => {
  it("keeps a run scheduled until `after` has passed, then runs it", async () => {
    const started = await start({ after: 1_500, params: { n: 1 } });
    expect(started.status).toBe(202);
    expect(started.body.status).toBe("scheduled");
    const scheduled = await status(started.body.taskId);
    expect(scheduled.scheduledFor).toEqual(expect.any(String));
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const midway = await status(started.body.taskId);
    // Asserted only when the answer came before the due time (a loaded machine may be past it).
    if (Date.now() < Date.parse(scheduled.scheduledFor)) expect(midway.status).toBe("scheduled");
    const task = await waitForEnd(stack, started.body.taskId);
    expect(task.status).toBe("succeeded");
    const lateness = Date.parse(task.startedAt) - Date.parse(scheduled.scheduledFor);
    expect(lateness).toBeGreaterThanOrEqual(0); // never early
    // Prompt: the local timer looks every 250 ms; the bound leaves room for a loaded machine.
    expect(lateness).toBeLessThan(5_000);
  });

  it("runs at once when `at` is in the past, and accepts any zone offset", async () => {
    const past = await start({ at: "2020-01-01T00:00:00+02:00" });
    expect(past.body.status).toBe("queued");
    expect((await waitForEnd(stack, past.body.taskId)).status).toBe("succeeded");
    const inAMinute = new Date(Date.now() + 60_000);
    const offset = new Date(inAMinute.getTime() + 5.5 * 3_600_000).toISOString().replace("Z", "+05:30");
    const later = await start({ at: offset });
    expect(later.body.status).toBe("scheduled");
    expect(
      Math.abs(Date.parse((await status(later.body.taskId)).scheduledFor) - inAMinute.getTime()),
    ).toBeLessThan(1_000);
    await stack.request("POST", `/v1/tasks/${later.body.taskId}/cancel`);
  });

  it.each([
    ["both at and after", { at: "2030-01-01T00:00:00Z", after: 10 }],
    ["a time without a zone", { at: "2030-01-01T00:00:00" }],
    ["a malformed time", { at: "next tuesday" }],
    ["a negative delay", { after: -5 }],
    ["a fractional delay", { after: 1.5 }],
    ["a time over a year ahead", { at: "2999-01-01T00:00:00Z" }],
  ])("refuses %s with 400", async (_what, body) => {
    const response = await start(body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: "validation_failed", message: expect.any(String) });
  });

  it("can be cancelled while scheduled, and then never starts", async () => {
    const started = await start({ after: 700 });
    const cancelled = await stack.request("POST", `/v1/tasks/${started.body.taskId}/cancel`);
    expect(cancelled.body.status).toBe("cancelled");
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await status(started.body.taskId)).toMatchObject({
      status: "cancelled",
      attempts: 0,
      startedAt: null,
    });
  });

  it("starts once when its timer fires twice", async () => {
    const started = await start({ after: 3_600_000 });
    const inTwoHours: Services = {
      ...stack.services,
      clock: { now: () => new Date(Date.now() + 7_200_000) },
    };
    const ref = { tenant: "acme", id: started.body.taskId };
    const outcomes = await Promise.all([
      startDue(inTwoHours, ref),
      startDue(inTwoHours, ref),
      startDue(inTwoHours, ref),
    ]);
    expect(outcomes.filter((o) => o === "queued")).toHaveLength(1);
    expect(outcomes.filter((o) => o === "not_scheduled")).toHaveLength(2);
    expect(await waitForEnd(stack, started.body.taskId)).toMatchObject({ status: "succeeded", attempts: 1 });
  });

  it("does nothing when a timer fires early", async () => {
    const started = await start({ after: 3_600_000 });
    expect(await startDue(stack.services, { tenant: "acme", id: started.body.taskId })).toBe("not_due");
    expect((await status(started.body.taskId)).status).toBe("scheduled");
    await stack.request("POST", `/v1/tasks/${started.body.taskId}/cancel`);
  });

  it("applies the limits in force when it falls due: a full line fails it visibly", async () => {
    await stack.request("PUT", "/v1/definitions/one-at-a-time", {
      // Holds the one slot until cancelled below, however long the delayed start takes to fall due.
      body: { handler: "sleep", maxConcurrency: 1, maxQueueLength: 0, params: { ms: 60_000, steps: 60 } },
    });
    const busy = await stack.request("POST", "/v1/tasks", { body: { definition: "one-at-a-time" } });
    const delayed = await stack.request("POST", "/v1/tasks", {
      body: { definition: "one-at-a-time", after: 300 },
    });
    expect(delayed.body.status).toBe("scheduled");
    const ended = await waitForEnd(stack, delayed.body.taskId);
    expect(ended).toMatchObject({ status: "failed", error: { code: "queue_full" } });
    await stack.request("POST", `/v1/tasks/${busy.body.taskId}/cancel`);
  });

  it("starts a run from the trigger Lambda's SQS event (the delay queue's path on AWS)", async () => {
    const started = await start({ after: 3_600_000 });
    const trigger = createTriggerHandler({
      ...stack.services,
      clock: { now: () => new Date(Date.now() + 7_200_000) },
    });
    const body = JSON.stringify({ kind: "start", tenant: "acme", runId: started.body.taskId });
    const result = await trigger({
      Records: [
        { messageId: "m1", body },
        { messageId: "m2", body: "garbage" },
      ],
    });
    expect(result).toEqual({ batchItemFailures: [] });
    await waitFor(async () =>
      (await status(started.body.taskId)).status === "succeeded" ? true : undefined,
    );
  });
});
