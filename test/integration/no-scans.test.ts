/**
 * No table scans on a hot path: every kind of task (plain, named queue, limited with a waiting
 * line and promotion, callback, workflow, chained) goes through start, claim, end and promotion
 * with a call counter on every AWS client, and DynamoDB.Scan is never called. The sweeper's
 * listing of counters items is a Scan, but it runs on a timer, off the hot path (and is off here).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsCallCounter } from "../../shared/aws/call-counter.ts";
import { handedOutToken } from "../support/callback-token.ts";
import { startTask, startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

const counter = new AwsCallCounter();
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ callCounter: counter });
  for (const [name, body] of [
    ["plain", { handler: "echo" }],
    ["limited", { handler: "echo", maxConcurrency: 1 }],
    ["external", { handler: "await-callback", mode: "callback" }],
    ["child", { handler: "echo" }],
    [
      "flow",
      {
        kind: "workflow",
        steps: [
          { id: "a", definition: "plain" },
          { id: "b", definition: "plain", dependsOn: ["a"] },
        ],
      },
    ],
  ] as const) {
    expect((await stack.request("PUT", `/v1/definitions/${name}`, { body })).status).toBeLessThan(300);
  }
  await stack.request("PUT", "/v1/chains/child", { body: { definition: "child" } });
});
afterAll(async () => {
  await stack?.stop();
});

const start = (body: Record<string, unknown>): Promise<string> => startTask(stack, body);

describe("hot paths", () => {
  it("start, claim, end and promote every kind of task without a DynamoDB Scan", async () => {
    counter.reset();
    const ids = await Promise.all([
      start({ definition: "plain" }),
      start({ definition: "plain", queue: "line" }),
      start({ definition: "plain", queue: "line" }),
      // One slot: two of these wait in line and are promoted as slots free.
      start({ definition: "limited" }),
      start({ definition: "limited" }),
      start({ definition: "limited" }),
      start({ definition: "flow" }),
    ]);
    const source = await start({ definition: "plain", chain: { name: "child" } });
    const awaiting = await start({ definition: "external" });
    for (const id of [...ids, source]) expect((await waitForEnd(stack, id)).status).toBe("succeeded");
    const token = await waitFor(async () => {
      const task = (await stack.request("GET", `/v1/tasks/${awaiting}`)).body;
      return task.status === "awaiting" ? handedOutToken(awaiting) : undefined;
    });
    const answer = await stack.request("POST", "/v1/callbacks", {
      key: token,
      body: { taskId: awaiting, status: "SUCCESS" },
    });
    expect(answer.status).toBeLessThan(300);
    expect((await waitForEnd(stack, awaiting)).status).toBe("succeeded");
    const chainedSource = await waitFor(async () => {
      const run = (await stack.request("GET", `/v1/tasks/${source}`)).body;
      return run.chainOutcomes?.length > 0 ? run : undefined;
    });
    expect(chainedSource.chainOutcomes[0]).toMatchObject({ status: "started" });
    const childId = chainedSource.chainOutcomes[0].childTaskId;
    expect((await waitForEnd(stack, childId)).status).toBe("succeeded");

    const calls = counter.snapshot();
    // The counter saw the hot paths (admission transactions, claims, ends, messages)…
    expect(calls["DynamoDB.TransactWriteItems"]).toBeGreaterThan(0);
    expect(calls["DynamoDB.UpdateItem"]).toBeGreaterThan(0);
    expect(calls["SQS.SendMessage"]).toBeGreaterThan(0);
    // …and no Scan among them.
    expect(calls["DynamoDB.Scan"]).toBeUndefined();
  });

  it("lists tasks under every filter the API and dashboard offer, page by page, without a DynamoDB Scan", async () => {
    counter.reset();
    const statuses = [
      "",
      "scheduled",
      "waiting",
      "queued",
      "running",
      "awaiting",
      "succeeded",
      "failed",
      "cancelled",
      "timed_out",
    ];
    for (const status of statuses) {
      for (const definition of ["", "plain", "limited"]) {
        const query = new URLSearchParams({ limit: "2" });
        if (status !== "") query.set("status", status);
        if (definition !== "") query.set("definition", definition);
        const first = await stack.request("GET", `/v1/tasks?${query}`);
        expect({ query: String(query), status: first.status, body: first.body }).toMatchObject({
          status: 200,
        });
        if (typeof first.body.cursor === "string") {
          query.set("cursor", first.body.cursor);
          const next = await stack.request("GET", `/v1/tasks?${query}`);
          expect({ query: String(query), status: next.status, body: next.body }).toMatchObject({
            status: 200,
          });
        }
      }
    }
    const calls = counter.snapshot();
    expect(calls["DynamoDB.Query"]).toBeGreaterThan(0);
    expect(calls["DynamoDB.Scan"]).toBeUndefined();
  });

  it("would see a Scan: the sweeper's listing of counters items is one, off the hot path", async () => {
    counter.reset();
    await stack.services.counters.list();
    expect(counter.snapshot()["DynamoDB.Scan"]).toBe(1);
  });
});
