/**
 * The run's hot item stays small: on DynamoDB Local, with the write units it reports
 * (ConsumedCapacity, summed by the call counter), a heartbeat, a progress and a feedback write
 * cost 1 write unit on a run with 300 KB of params and 200 KB of logs, where the old single item
 * cost about 500 per write (DynamoDB bills an update by the larger of the old and new item).
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { ensureTables, tableNames } from "../../local/bootstrap.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { AwsCallCounter } from "../../shared/aws/call-counter.ts";
import { createAwsClients } from "../../shared/aws/clients.ts";
import { DynamoRunStore } from "../../shared/aws/dynamo-run-store.ts";
import { newRun } from "../../shared/core/lifecycle.ts";
import type { Run } from "../../shared/core/run.ts";
import { uniquePrefix } from "../support/stack.ts";

const endpoints = inject("endpoints");
const counter = new AwsCallCounter();
const clients = createAwsClients({
  region: LOCAL_REGION,
  endpoints,
  credentials: LOCAL_CREDENTIALS,
  callCounter: counter,
});
let store: DynamoRunStore;
let runsTable: string;

beforeAll(async () => {
  const names = tableNames(uniquePrefix());
  runsTable = names.runs;
  const raw = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: endpoints.dynamodb,
    credentials: LOCAL_CREDENTIALS,
  });
  await ensureTables(raw, names);
  store = new DynamoRunStore({
    client: clients.dynamo,
    tableName: names.runs,
    countersTable: names.counters,
    retentionDays: 30,
  });
});

const T0 = new Date("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();

function bigRun(id: string, params: Record<string, unknown> = { blob: "p".repeat(300 * 1024) }): Run {
  return newRun(
    {
      tenant: "acme",
      id,
      definition: {
        tenant: "acme",
        name: "report",
        handler: "echo",
        params: {},
        maxAttempts: 2,
        timeoutSeconds: 60,
        createdAt: "",
        updatedAt: "",
      },
      params,
      createdBy: "key1",
    },
    "queued",
    T0,
  );
}

/** The write units one write consumed, as DynamoDB Local reports them. */
async function writeUnits(write: () => Promise<unknown>): Promise<number> {
  counter.reset();
  await write();
  return counter.units().write;
}

describe("the run's hot item", () => {
  it("costs 1 write unit per heartbeat, progress and feedback write, whatever the size of params and logs", async () => {
    const run = bigRun("big1");
    await store.create(run);
    const claimed = await store.claim(run, { now: at(1), leaseUntil: at(60_000) });
    expect(claimed.claimed).toBe(true);
    const guard = { status: "running", attempts: 1, notCancelRequested: true } as const;

    expect(await writeUnits(() => store.update(run, guard, { leaseUntil: at(90_000) }))).toBe(1);
    expect(await writeUnits(() => store.update(run, guard, { progress: 0.25 }))).toBe(1);
    expect(
      await writeUnits(() => store.update(run, guard, { feedback: "a quarter done", progress: 0.25 })),
    ).toBe(1);

    // 200 KB of logs: written once beside the run, then out of every later progress write.
    const logs = [{ at: at(2), line: "l".repeat(200 * 1024) }];
    expect(await writeUnits(() => store.update(run, guard, { logs }))).toBeGreaterThan(200);
    expect(await writeUnits(() => store.update(run, guard, { progress: 0.5, leaseUntil: at(120_000) }))).toBe(
      1,
    );
    expect(await writeUnits(() => store.transition(run, guard, { subtext: "half way" }))).toBe(1);

    const read = await store.get(run);
    expect(read?.params).toEqual(run.params);
    expect(read?.logs).toEqual(logs);
    expect(read).toMatchObject({ progress: 0.5, feedback: "a quarter done", subtext: "half way" });

    // The end gives the bulky items the run's expiry, so TTL takes them with it.
    await store.transition(run, guard, { status: "succeeded", endedAt: at(3), sweepAt: null });
    for (const sk of ["run", "params", "logs"]) {
      const item = await clients.dynamo.send(
        new GetCommand({ TableName: runsTable, Key: { pk: "acme#big1", sk } }),
      );
      expect({ sk, expiresAt: item.Item?.expiresAt }).toEqual({ sk, expiresAt: expect.any(Number) });
    }
  });

  it("writes 8 units for a plain task's start, claim and end: 3 to the run, 5 to indexes", async () => {
    const run = bigRun("plain1", { text: "hello" });
    const units = await writeUnits(async () => {
      await store.create(run);
      await store.claim(run, { now: at(1), leaseUntil: at(60_000) });
      await store.transition(
        run,
        { status: "running", attempts: 1 },
        { status: "succeeded", endedAt: at(2), output: { text: "hello" }, logs: [], sweepAt: null },
      );
    });
    expect(counter.unitsByTarget()).toMatchObject({
      [`PutItem ${runsTable}`]: 1,
      [`PutItem ${runsTable}/byTenantShard`]: 1,
      [`PutItem ${runsTable}/byStatus`]: 1,
      [`PutItem ${runsTable}/bySweep`]: 1,
    });
    expect(units).toBe(8);
  });
});
