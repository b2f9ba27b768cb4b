/**
 * A start while DynamoDB or SQS fails, one deterministic fault at a time (injected-errors.test.ts
 * does it at random), and exactly what each leaves behind:
 *
 * - DynamoDB refuses the start's transaction: 503 with Retry-After and nothing written at all (no
 *   run, no counter change, no idempotency record); the retry makes the run.
 * - DynamoDB applies the transaction, then its answer is lost: 503, and the run exists whole (run,
 *   counters and idempotency record, written together), its message unsent; the retry with the
 *   same key returns that run, writes nothing, and sends the message (without the retry, the
 *   sweeper sends it 15 minutes after the start).
 * - SQS refuses the message: 202, the run is kept and marked for the sweeper's next round, which
 *   sends it.
 * - An unlimited start sends its message before it writes its run. DynamoDB refuses the write:
 *   503, no run, and a message for no run (the worker drops it once old). DynamoDB applies it and
 *   the answer is lost: 503, and the run is whole, with its message sent.
 *
 * The worker is off until the end, so the queue holds exactly the messages the starts sent.
 */
import { ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { sweep } from "../../shared/app/sweeper.ts";
import type { InstrumentableClient } from "../../shared/aws/instrument.ts";
import { startTestStack, type TestStack, waitFor } from "../support/stack.ts";
import { readAllTables } from "../support/tables.ts";
import { storedRuns } from "./support.ts";

interface Fault {
  /** The SDK client, as its name starts: "DynamoDB" or "SQS". */
  service: string;
  command: string;
  /** refused: every attempt fails before the server; applied-then-lost: it was applied, the answer lost. */
  how: "refused" | "applied-then-lost";
}

let fault: Fault | undefined;
let faulted = 0;

function matches(context: { clientName?: string; commandName?: string }): Fault | undefined {
  return fault !== undefined &&
    String(context.clientName).startsWith(fault.service) &&
    context.commandName === fault.command
    ? fault
    : undefined;
}

const instrumentClient = (client: InstrumentableClient) => {
  // Outside the SDK's retries (and inside Baton's translation to UnavailableError): the call was
  // applied, and what Baton sees, once the SDK is done, is a dropped connection.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (matches(context)?.how !== "applied-then-lost") return next(args);
      await next(args);
      faulted += 1;
      throw Object.assign(new Error("socket hang up (injected)"), { code: "ECONNRESET" });
    },
    { step: "initialize", name: "testAppliedThenLost" },
  );
  // Inside the SDK's retries: every attempt is refused, as by a service that is down.
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (matches(context)?.how !== "refused") return next(args);
      faulted += 1;
      throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1 (injected)"), { code: "ECONNREFUSED" });
    },
    { step: "finalizeRequest", name: "testRefused" },
  );
};

let stack: TestStack;
let sqs: SQSClient;
const started = Date.now();

beforeAll(async () => {
  stack = await startTestStack({ instrumentClient, runWorker: false, timerIntervalMs: 0 });
  sqs = new SQSClient({
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    endpoint: stack.endpoints.sqs,
  });
  await stack.request("PUT", "/v1/definitions/limited", { body: { handler: "echo", maxConcurrency: 5 } });
  await stack.request("PUT", "/v1/definitions/plain", { body: { handler: "echo" } });
});
afterAll(async () => {
  fault = undefined;
  sqs?.destroy();
  await stack?.stop();
});

/** The run ids of the messages in the run queue now; they stay there (visible again at once). */
async function queuedMessages(): Promise<string[]> {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: stack.queueUrls.fair,
      MaxNumberOfMessages: 10,
      VisibilityTimeout: 0,
      WaitTimeSeconds: 0,
    }),
  );
  return Messages.map((message) => JSON.parse(message.Body ?? "{}").runId).sort();
}

/** One start through the API with `fault` on, then off. */
async function startWith(injected: Fault, body: Record<string, unknown>) {
  fault = injected;
  faulted = 0;
  try {
    return await stack.request("POST", "/v1/tasks", { body });
  } finally {
    fault = undefined;
  }
}

function expectUnavailable(answer: { status: number; body: { error?: string }; headers: Headers }) {
  expect(answer.status).toBe(503);
  expect(answer.body.error).toBe("unavailable");
  expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
}

const runsWithKey = async (key: string) =>
  (await storedRuns(stack)).filter((run) => run.idempotencyKey === key);

const ids: Record<string, string> = {};

describe("a start while a dependency fails", () => {
  it("DynamoDB refuses the transaction: 503, and nothing at all is written; the retry makes the run", async () => {
    const body = { definition: "limited", params: { n: 1 }, idempotencyKey: "refused" };
    const before = await readAllTables(stack.endpoints.dynamodb, stack.prefix);
    const answer = await startWith(
      { service: "DynamoDB", command: "TransactWriteItemsCommand", how: "refused" },
      body,
    );
    expect(faulted).toBeGreaterThan(0);
    expectUnavailable(answer);
    // No run, no counters item, no idempotency record: every table as it was, item for item.
    expect(await readAllTables(stack.endpoints.dynamodb, stack.prefix)).toEqual(before);
    expect(await queuedMessages()).toEqual([]);

    const retried = await stack.request("POST", "/v1/tasks", { body });
    expect(retried.status).toBe(202);
    ids.refused = retried.body.taskId;
    expect((await runsWithKey("refused")).map((run) => run.id)).toEqual([ids.refused]);
    expect(await stack.services.counters.get("acme", "limited")).toMatchObject({ running: 1, waiting: 0 });
    expect(await queuedMessages()).toEqual([ids.refused]);
  });

  it("DynamoDB applies the transaction and the answer is lost: 503, the run is whole, the retry returns and sends it", async () => {
    const body = { definition: "limited", params: { n: 2 }, idempotencyKey: "applied" };
    const answer = await startWith(
      { service: "DynamoDB", command: "TransactWriteItemsCommand", how: "applied-then-lost" },
      body,
    );
    expect(faulted).toBe(1);
    expectUnavailable(answer);
    // Run, counters and idempotency record were one transaction: all three are there.
    const [run, ...others] = await runsWithKey("applied");
    expect(others).toEqual([]);
    expect(run).toMatchObject({ status: "queued", attempts: 0, definition: "limited" });
    const id = String(run?.id);
    ids.applied = id;
    expect(await stack.services.counters.get("acme", "limited")).toMatchObject({ running: 2, waiting: 0 });
    expect((await stack.services.runs.getIdempotency("acme", "applied"))?.runId).toBe(id);
    // The API gave up before sending the message.
    expect(await queuedMessages()).toEqual([ids.refused]);

    // The client retries, as a 503 asks: the same run, nothing new written (only the run's
    // updatedAt, which marks that its message was sent again), and its message sent now (the
    // sweeper would send it only 15 minutes after the start).
    const withoutUpdatedAt = async () =>
      JSON.parse(
        JSON.stringify(await readAllTables(stack.endpoints.dynamodb, stack.prefix), (key, value) =>
          key === "updatedAt" ? undefined : value,
        ),
      );
    const before = await withoutUpdatedAt();
    const retried = await stack.request("POST", "/v1/tasks", { body });
    expect(retried.status).toBe(202);
    expect(retried.body.taskId).toBe(id);
    expect(await withoutUpdatedAt()).toEqual(before);
    expect(await queuedMessages()).toEqual([ids.refused, id].sort());
    // A second retry sends nothing more: the first retry marked the run as sent again (the fair
    // queue does not deduplicate, so the engine resends at most once per run).
    expect((await stack.request("POST", "/v1/tasks", { body })).body.taskId).toBe(id);
    expect(await queuedMessages()).toEqual([ids.refused, id].sort());
  });

  it("SQS refuses the message: 202, the run is kept and the sweeper's next round sends it", async () => {
    const answer = await startWith(
      { service: "SQS", command: "SendMessageCommand", how: "refused" },
      { definition: "plain", params: { n: 3 }, idempotencyKey: "unsent" },
    );
    expect(faulted).toBeGreaterThan(0);
    expect(answer.status).toBe(202);
    const id = answer.body.taskId;
    ids.unsent = id;
    expect(await queuedMessages()).not.toContain(id);
    const stored = await stack.services.runs.get({ tenant: "acme", id });
    expect(stored?.status).toBe("queued");
    // Marked for the sweeper's next round rather than 15 minutes on.
    expect(Date.parse(String(stored?.sweepAt))).toBeLessThanOrEqual(Date.now());

    expect((await sweep(stack.services)).resent).toBe(1);
    expect(await queuedMessages()).toContain(id);
  });

  it("DynamoDB refuses an unlimited start's write, sent first: 503, no run, and a message for no run", async () => {
    const before = await queuedMessages();
    const answer = await startWith(
      { service: "DynamoDB", command: "PutItemCommand", how: "refused" },
      { definition: "plain", params: { n: 4 } },
    );
    expect(faulted).toBeGreaterThan(0);
    expectUnavailable(answer);
    const orphans = (await queuedMessages()).filter((id) => !before.includes(id));
    expect(orphans).toHaveLength(1);
    expect(await stack.services.runs.get({ tenant: "acme", id: String(orphans[0]) })).toBeUndefined();
    // The worker waits for its run a while, then drops it (test/unit/app/sent-first.test.ts).
    ids.orphan = String(orphans[0]);
  });

  it("DynamoDB writes an unlimited start's run and the answer is lost: 503, and the run is whole and sent", async () => {
    const before = await queuedMessages();
    const answer = await startWith(
      { service: "DynamoDB", command: "PutItemCommand", how: "applied-then-lost" },
      { definition: "plain", params: { n: 5 } },
    );
    expect(faulted).toBe(1);
    expectUnavailable(answer);
    const sent = (await queuedMessages()).filter((id) => !before.includes(id));
    expect(sent).toHaveLength(1);
    ids.lostAnswer = String(sent[0]);
    expect(await stack.services.runs.get({ tenant: "acme", id: ids.lostAnswer })).toMatchObject({
      status: "queued",
      attempts: 0,
    });
  });

  it("every run that was written then runs once, and the counters come back to zero", async () => {
    stack.startWorker();
    const runs = await waitFor(
      async () => {
        const all = await storedRuns(stack);
        return all.length === 4 && all.every((run) => run.status === "succeeded") ? all : undefined;
      },
      30_000,
      "the four runs to succeed",
    );
    expect(runs.map((run) => run.id).sort()).toEqual(
      [ids.refused, ids.applied, ids.unsent, ids.lostAnswer].sort(),
    );
    expect(runs.map((run) => run.id)).not.toContain(ids.orphan);
    expect(runs.every((run) => run.attempts === 1)).toBe(true);
    const counters = await stack.services.counters.get("acme", "limited");
    expect(counters).toMatchObject({ running: 0, waiting: 0 });
    console.log(
      `unavailable-start: transaction refused → 503, every table unchanged; transaction applied, answer lost → 503, ` +
        `run whole, retry returned and sent it; message refused → 202, sent by the next sweep; ` +
        `unlimited write refused → 503, message for no run; applied, answer lost → 503, run whole and sent; ` +
        `runs=${runs.length} succeeded once each, counters=${counters?.running}/${counters?.waiting}, ` +
        `${Math.round((Date.now() - started) / 1000)} s`,
    );
  });
});
