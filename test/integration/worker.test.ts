/** The worker handler driven from the FIFO queue: order, overlap and duplicate deliveries. */
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";
import { invocations } from "../support/test-tasks.ts";

let stack: TestStack;
let sqs: SQSClient;

beforeAll(async () => {
  stack = await startTestStack({ workerConcurrency: 4, leaseSeconds: 3 });
  sqs = new SQSClient({
    region: LOCAL_REGION,
    endpoint: stack.endpoints.sqs,
    credentials: LOCAL_CREDENTIALS,
  });
  await stack.request("PUT", "/v1/definitions/timed", { body: { handler: "timed" } });
});
afterAll(async () => {
  sqs?.destroy();
  await stack?.stop();
});

interface Timed {
  start: number;
  end: number;
  seq: number;
}

async function runAll(count: number, queue: string | undefined, ms: () => number): Promise<Timed[]> {
  const ids: string[] = [];
  for (let seq = 0; seq < count; seq += 1) {
    const response = await stack.request("POST", "/v1/tasks", {
      body: { definition: "timed", params: { ms: ms(), seq }, ...(queue === undefined ? {} : { queue }) },
    });
    expect(response.status).toBe(202);
    ids.push(response.body.taskId);
  }
  const tasks = await Promise.all(ids.map((id) => waitForEnd(stack, id, 30_000)));
  for (const task of tasks) expect(task.status).toBe("succeeded");
  return tasks.map((task) => task.output as Timed);
}

describe("named queues", () => {
  it("never overlap and start in submission order; runs without a queue do overlap", async () => {
    const [queued, free] = await Promise.all([
      runAll(20, "invoices", () => 20 + Math.floor(Math.random() * 60)),
      runAll(12, undefined, () => 1_500),
    ]);

    const byStart = [...queued].sort((a, b) => a.start - b.start);
    expect(byStart.map((t) => t.seq)).toEqual([...Array(20).keys()]);
    for (let i = 1; i < byStart.length; i += 1) {
      const previous = byStart[i - 1] as Timed;
      const current = byStart[i] as Timed;
      expect(
        current.start,
        `run ${current.seq} started before run ${previous.seq} ended`,
      ).toBeGreaterThanOrEqual(previous.end);
    }

    // Unqueued runs of 1.5 s each, started one POST after another: with 4 concurrent batches,
    // some must have run side by side (1.5 s outlasts the gap between two starts on a loaded machine).
    const overlapping = free.some((a) => free.some((b) => a !== b && a.start < b.end && b.start < a.end));
    expect(overlapping).toBe(true);
  });
});

describe("at-least-once delivery", () => {
  it("runs the handler once when the same run message arrives twice", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: { definition: "timed", params: { ms: 1_500 } },
    });
    const taskId: string = started.body.taskId;
    await waitFor(async () =>
      (await stack.request("GET", `/v1/tasks/${taskId}`)).body.status === "running" ? true : undefined,
    );
    const body = JSON.stringify({ v: 1, tenant: "acme", runId: taskId });
    // A duplicate on the fair queue (a standard queue may deliver twice) arrives while the first
    // delivery holds a live claim; one on the FIFO queue arrives too. Neither may run the handler again.
    await sqs.send(
      new SendMessageCommand({ QueueUrl: stack.queueUrls.fair, MessageBody: body, MessageGroupId: "acme" }),
    );
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.fifo,
        MessageBody: body,
        MessageGroupId: "duplicate-elsewhere",
        MessageDeduplicationId: `${taskId}-dup-2`,
      }),
    );
    const task = await waitForEnd(stack, taskId);
    expect(task).toMatchObject({ status: "succeeded", attempts: 1 });
    // Wait until both duplicates were received and settled, then count invocations.
    const messagesLeft = async (queueUrl: string) => {
      const attributes = (
        await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: queueUrl,
            AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
          }),
        )
      ).Attributes;
      return (
        Number(attributes?.ApproximateNumberOfMessages) +
        Number(attributes?.ApproximateNumberOfMessagesNotVisible)
      );
    };
    await waitFor(
      async () =>
        (await messagesLeft(stack.queueUrls.fair)) + (await messagesLeft(stack.queueUrls.fifo)) === 0
          ? true
          : undefined,
      20_000,
      "the duplicates to be consumed",
    );
    expect(invocations.get(taskId)).toBe(1);
  });

  it("drops an unreadable message instead of blocking its group", async () => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.fifo,
        MessageBody: "not json",
        MessageGroupId: "acme#poison",
        MessageDeduplicationId: "poison-1",
      }),
    );
    const started = await stack.request("POST", "/v1/tasks", {
      body: { definition: "timed", queue: "poison", params: { ms: 1 } },
    });
    expect((await waitForEnd(stack, started.body.taskId)).status).toBe("succeeded");
  });
});
