/** The AWS adapters against the emulators: DynamoDB Local and fauxqs. */

import { Readable } from "node:stream";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { BatchGetCommand, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, inject, it } from "vitest";
import { ensureBucket, ensureRunQueues, ensureTables, tableNames } from "../../local/bootstrap.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { createAwsClients } from "../../shared/aws/clients.ts";
import { DynamoCounterStore } from "../../shared/aws/dynamo-counter-store.ts";
import { DynamoDefinitionStore } from "../../shared/aws/dynamo-definition-store.ts";
import { DynamoDestinationStore } from "../../shared/aws/dynamo-destination-store.ts";
import { DynamoRunStore } from "../../shared/aws/dynamo-run-store.ts";
import { DynamoStartRateStore } from "../../shared/aws/dynamo-start-rate-store.ts";
import { DynamoTenantStore } from "../../shared/aws/dynamo-tenant-store.ts";
import { S3PayloadStore } from "../../shared/aws/payload-store.ts";
import { SWEEP_SHARDS, sweepShardOf } from "../../shared/aws/run-keys.ts";
import { S3FileStore } from "../../shared/aws/s3-file-store.ts";
import { SqsRunQueue } from "../../shared/aws/sqs-run-queue.ts";
import { newRun } from "../../shared/core/lifecycle.ts";
import type { RunLane } from "../../shared/core/ports.ts";
import type { RunRef } from "../../shared/core/run.ts";
import { reportDefinition } from "../support/fixtures.ts";
import { uniquePrefix } from "../support/stack.ts";
import { admissionStoreContract } from "./admission-store.contract.ts";
import { definitionStoreContract } from "./definition-store.contract.ts";
import { destinationStoreContract } from "./destination-store.contract.ts";
import { runQueueContract } from "./run-queue.contract.ts";
import { runStoreContract } from "./run-store.contract.ts";
import { startRateStoreContract } from "./start-rate-store.contract.ts";
import { tenantStoreContract } from "./tenant-store.contract.ts";

const endpoints = inject("endpoints");
// fauxqs serves S3 on the SQS endpoint.
const clients = createAwsClients({
  region: LOCAL_REGION,
  endpoints: { ...endpoints, s3: endpoints.sqs },
  credentials: LOCAL_CREDENTIALS,
});
const rawDynamo = new DynamoDBClient({
  region: LOCAL_REGION,
  endpoint: endpoints.dynamodb,
  credentials: LOCAL_CREDENTIALS,
});

/** Fresh tables for every test: no state leaks between them. */
async function freshTables() {
  const names = tableNames(uniquePrefix());
  await ensureTables(rawDynamo, names);
  return names;
}

runStoreContract("DynamoRunStore", async () => {
  const names = await freshTables();
  return new DynamoRunStore({ client: clients.dynamo, tableName: names.runs, countersTable: names.counters });
});

runStoreContract(
  "DynamoRunStore with S3 payloads",
  async () => {
    const names = await freshTables();
    const bucket = `${uniquePrefix()}payloads`;
    await ensureBucket(clients.s3, bucket);
    return new DynamoRunStore({
      client: clients.dynamo,
      tableName: names.runs,
      countersTable: names.counters,
      payloads: new S3PayloadStore({ client: clients.s3, bucket }),
    });
  },
  { claimCheck: true },
);

admissionStoreContract("DynamoRunStore + DynamoCounterStore", async () => {
  const names = await freshTables();
  return {
    runs: new DynamoRunStore({
      client: clients.dynamo,
      tableName: names.runs,
      countersTable: names.counters,
    }),
    counters: new DynamoCounterStore({ client: clients.dynamo, tableName: names.counters }),
  };
});

definitionStoreContract("DynamoDefinitionStore", async () => {
  const names = await freshTables();
  return new DynamoDefinitionStore({ client: clients.dynamo, tableName: names.definitions });
});

destinationStoreContract("DynamoDestinationStore", async () => {
  const names = await freshTables();
  return new DynamoDestinationStore({ client: clients.dynamo, tableName: names.destinations });
});

tenantStoreContract("DynamoTenantStore", async () => {
  const names = await freshTables();
  return new DynamoTenantStore({
    client: clients.dynamo,
    tenantsTable: names.tenants,
    keysTable: names.keys,
  });
});

// Each handle is a store of its own, as in another api or worker process, on one table.
startRateStoreContract("DynamoStartRateStore", async () => {
  const names = await freshTables();
  return () => new DynamoStartRateStore({ client: clients.dynamo, tableName: names.runs });
});

describe("DynamoStartRateStore: the tenant's one item", () => {
  it("holds only its TAT and expiry (no index attribute), and outlives its TAT by a day", async () => {
    const names = await freshTables();
    const store = new DynamoStartRateStore({ client: clients.dynamo, tableName: names.runs });
    const now = new Date("2026-01-01T00:00:00.000Z");
    await store.take("acme", { startsPerSecond: 2, burst: 4 }, now);
    await store.take("acme", { startsPerSecond: 2, burst: 4 }, now);
    const item = (
      await clients.dynamo.send(
        new GetCommand({ TableName: names.runs, Key: { pk: "acme", sk: "startRate" } }),
      )
    ).Item;
    const tatUs = now.getTime() * 1000 + 1_000_000;
    expect(item).toEqual({ pk: "acme", sk: "startRate", tatUs, expiresAt: expect.any(Number) });
    expect(item?.expiresAt).toBeGreaterThanOrEqual(tatUs / 1_000_000 + 86_400);
  });
});

runQueueContract("SqsRunQueue", async () => {
  const urls = await ensureRunQueues(clients.sqs, {
    name: `${uniquePrefix()}runs`,
    visibilityTimeoutSeconds: 30,
  });
  const receiveFrom = async (lane: RunLane, waitSeconds: number) => {
    const result = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: urls[lane],
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: waitSeconds,
        MessageSystemAttributeNames: ["MessageGroupId"],
      }),
    );
    return (result.Messages ?? []).map((m) => ({
      body: m.Body ?? "",
      groupId: m.Attributes?.MessageGroupId,
      receipt: { lane, handle: m.ReceiptHandle ?? "" },
    }));
  };
  return {
    queue: new SqsRunQueue({ client: clients.sqs, fifoQueueUrl: urls.fifo, fairQueueUrl: urls.fair }),
    async receive(waitSeconds = 1) {
      const [fifo, fair] = await Promise.all([
        receiveFrom("fifo", waitSeconds),
        receiveFrom("fair", waitSeconds),
      ]);
      return [...fifo, ...fair];
    },
    async remove(receipt) {
      await clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: urls[receipt.lane], ReceiptHandle: receipt.handle }),
      );
    },
  };
});

describe("DynamoRunStore: counts of unfinished runs", () => {
  /**
   * The store over a client that watches its BatchGetItem calls and, while `refusing` says so,
   * answers part of each as unprocessed, as a throttled table does.
   */
  async function watchedStore(refusing: (call: number) => number) {
    const names = await freshTables();
    const batches: number[] = [];
    const client = {
      send: async (command: { input: unknown }) => {
        if (!(command instanceof BatchGetCommand)) return clients.dynamo.send(command as never);
        const request = command.input.RequestItems?.[names.runs];
        const asked = request?.Keys ?? [];
        batches.push(asked.length);
        // The first keys are refused unread; the others are asked of the table.
        const refused = asked.slice(0, refusing(batches.length));
        const read = asked.slice(refused.length);
        const answer =
          read.length === 0
            ? { Responses: {} }
            : await clients.dynamo.send(
                new BatchGetCommand({ RequestItems: { [names.runs]: { ...request, Keys: read } } }),
              );
        return refused.length === 0
          ? answer
          : { ...answer, UnprocessedKeys: { [names.runs]: { ...request, Keys: refused } } };
      },
    };
    const store = new DynamoRunStore({
      client: client as unknown as typeof clients.dynamo,
      tableName: names.runs,
      countersTable: names.counters,
    });
    return { store, batches };
  }
  const definition = reportDefinition({ maxAttempts: 2, createdAt: "", updatedAt: "" });
  const unfinished = (id: string, status: "queued" | "waiting") =>
    newRun({ tenant: "acme", id, definition, params: {}, createdBy: "key1" }, status, new Date(1_000));

  it("reads more than 100 unfinished runs in calls of at most 100 keys, asking again for keys left unprocessed", async () => {
    const { store, batches } = await watchedStore((call) => (call === 1 ? 30 : 0));
    for (let i = 0; i < 120; i += 1)
      await store.create(unfinished(`u${i}`, i % 3 === 0 ? "waiting" : "queued"));
    const counts = await store.countSince("acme", new Date(0).toISOString(), 2_000);
    expect(counts.byStatus.waiting).toEqual({ report: 40 });
    expect(counts.byStatus.queued).toEqual({ report: 80 });
    expect(counts.complete).toBe(true);
    expect(Math.max(...batches)).toBe(100);
    // 100 + 20 keys, then the 30 refused at first asked for again.
    expect(batches.toSorted((a, b) => a - b)).toEqual([20, 30, 100]);
  });

  it("says the counts are incomplete when the table keeps refusing some keys", async () => {
    const { store } = await watchedStore(() => 2);
    for (let i = 0; i < 5; i += 1) await store.create(unfinished(`u${i}`, "queued"));
    const counts = await store.countSince("acme", new Date(0).toISOString(), 2_000);
    expect(counts.complete).toBe(false);
    expect(counts.byStatus.queued).toEqual({ report: 3 });
    expect(counts.total).toEqual({ report: 5 });
  });
});

describe("DynamoRunStore: sweep shards", () => {
  it("finds a sweep entry written when the index had 64 shards, and moves it to its shard at its next sweepAt", async () => {
    const names = await freshTables();
    const store = new DynamoRunStore({
      client: clients.dynamo,
      tableName: names.runs,
      countersTable: names.counters,
    });
    // A run whose shard among 128 is not its shard among 64 (a hash byte of 64 or more).
    const id = Array.from({ length: 64 }, (_, i) => `old-sweep-${i}`).find(
      (candidate) => sweepShardOf(candidate) >= 64,
    );
    if (id === undefined) throw new Error("no run id with a shard above 63");
    expect(SWEEP_SHARDS).toBe(128);
    const definition = reportDefinition({ maxAttempts: 2, createdAt: "", updatedAt: "" });
    const run = newRun(
      { tenant: "acme", id, definition, params: {}, createdBy: "key1" },
      "queued",
      new Date(0),
    );
    await store.create(run);
    const key = { pk: `acme#${id}`, sk: "run" };
    const oldShard = String(sweepShardOf(id) - 64);
    await clients.dynamo.send(
      new UpdateCommand({
        TableName: names.runs,
        Key: key,
        UpdateExpression: "SET sweepShard = :old",
        ExpressionAttributeValues: { ":old": oldShard },
      }),
    );
    const due = new Date(Date.parse(run.sweepAt ?? "") + 1).toISOString();
    expect(await store.dueForSweep(due, 10)).toContainEqual({ tenant: "acme", id });
    await store.update(run, { status: "queued", attempts: 0 }, { sweepAt: due });
    const item = await clients.dynamo.send(new GetCommand({ TableName: names.runs, Key: key }));
    expect(item.Item?.sweepShard).toBe(String(sweepShardOf(id)));
    expect(await store.dueForSweep(due, 10)).toContainEqual({ tenant: "acme", id });
  });
});

describe("DynamoRunStore: ended runs expire by TTL", () => {
  const RETENTION_DAYS = 30;
  const T0 = Date.parse("2026-01-01T00:00:00.000Z");
  const iso = (ms: number) => new Date(T0 + ms).toISOString();
  const definition = reportDefinition({ maxAttempts: 2, createdAt: "", updatedAt: "" });
  const aRun = (id: string) =>
    newRun({ tenant: "acme", id, definition, params: {}, createdBy: "key1" }, "queued", new Date(T0));

  async function setup(retentionDays?: number) {
    const names = await freshTables();
    const store = new DynamoRunStore({
      client: clients.dynamo,
      tableName: names.runs,
      countersTable: names.counters,
      ...(retentionDays === undefined ? {} : { retentionDays }),
    });
    /** The stored item's TTL attribute, which the Run read back never shows. */
    const expiresAt = async (ref: RunRef) =>
      (
        await clients.dynamo.send(
          new GetCommand({ TableName: names.runs, Key: { pk: `${ref.tenant}#${ref.id}`, sk: "run" } }),
        )
      ).Item?.expiresAt;
    return { store, expiresAt };
  }

  it("a write that ends a run sets expiresAt to its end plus the retention; earlier writes set none", async () => {
    const { store, expiresAt } = await setup(RETENTION_DAYS);
    const run = aRun("r1");
    await store.create(run);
    expect(await expiresAt(run)).toBeUndefined();
    const running = await store.update(
      run,
      { status: "queued", attempts: 0 },
      { status: "running", attempts: 1 },
    );
    expect(running?.status).toBe("running");
    expect(await expiresAt(run)).toBeUndefined();
    const endedAt = iso(90_000);
    const ended = await store.update(
      run,
      { status: "running", attempts: 1 },
      { status: "succeeded", endedAt, updatedAt: endedAt },
    );
    expect(ended?.status).toBe("succeeded");
    expect(ended).not.toHaveProperty("expiresAt");
    expect(await expiresAt(run)).toBe(Math.floor(Date.parse(endedAt) / 1000) + RETENTION_DAYS * 86_400);
    // A later write to the ended run (its chain outcomes, say) keeps the expiry.
    await store.update(run, { status: "succeeded", attempts: 1 }, { subtext: "handed on" });
    expect(await expiresAt(run)).toBe(Math.floor(Date.parse(endedAt) / 1000) + RETENTION_DAYS * 86_400);
  });

  it("an end through a transition (with or without a counter change) expires too", async () => {
    const { store, expiresAt } = await setup(RETENTION_DAYS);
    const plain = aRun("r2");
    await store.create(plain);
    const endedAt = iso(5_000);
    expect(
      await store.transition(plain, { status: "queued", attempts: 0 }, { status: "cancelled", endedAt }),
    ).toEqual({ ok: true });
    expect(await expiresAt(plain)).toBe(Math.floor(Date.parse(endedAt) / 1000) + RETENTION_DAYS * 86_400);

    const limited = aRun("r3");
    await store.create(limited, { counters: [{ definition: "report", running: 1, at: iso(0) }] });
    const result = await store.transition(
      limited,
      { status: "queued", attempts: 0 },
      { status: "failed", endedAt },
      [{ definition: "report", running: -1, at: endedAt }],
    );
    expect(result).toEqual({ ok: true });
    expect(await expiresAt(limited)).toBe(Math.floor(Date.parse(endedAt) / 1000) + RETENTION_DAYS * 86_400);
  });

  it("a run created already ended expires; without a retention nothing does", async () => {
    const { store, expiresAt } = await setup(RETENTION_DAYS);
    const endedAt = iso(1_000);
    const failed = { ...aRun("r4"), status: "failed" as const, endedAt };
    await store.create(failed);
    expect(await expiresAt(failed)).toBe(Math.floor(Date.parse(endedAt) / 1000) + RETENTION_DAYS * 86_400);

    const forever = await setup();
    const run = aRun("r5");
    await forever.store.create(run);
    await forever.store.update(run, { status: "queued", attempts: 0 }, { status: "cancelled", endedAt });
    expect(await forever.expiresAt(run)).toBeUndefined();
  });
});

describe("S3FileStore: an upload stops with its attempt's signal", () => {
  async function fileStore() {
    const bucket = `${uniquePrefix()}files`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
    await ensureBucket(clients.s3, bucket);
    return new S3FileStore({ client: clients.s3, bucket });
  }

  it("stores a file and tells its size", async () => {
    const files = await fileStore();
    expect(await files.put("acme/r1/a.txt", "hello", "text/plain")).toEqual({ size: 5 });
    expect(await files.size("acme/r1/a.txt")).toBe(5);
  });

  it("a put whose signal has fired writes nothing", async () => {
    const files = await fileStore();
    const signal = AbortSignal.abort(new DOMException("attempt timed out", "TimeoutError"));
    await expect(files.put("acme/r1/late.txt", "late", "text/plain", { signal })).rejects.toMatchObject({
      name: "TimeoutError",
    });
    expect(await files.size("acme/r1/late.txt")).toBeUndefined();
  });

  it("a body still streaming when the signal fires is abandoned: no request is sent, no object appears", async () => {
    // A client of its own, whose every S3 request is noted.
    const counted = createAwsClients({
      region: LOCAL_REGION,
      endpoints: { ...endpoints, s3: endpoints.sqs },
      credentials: LOCAL_CREDENTIALS,
    }).s3;
    const sent: string[] = [];
    counted.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: "initialize" },
    );
    const bucket = `${uniquePrefix()}files`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
    await ensureBucket(clients.s3, bucket);
    const files = new S3FileStore({ client: counted, bucket });
    const lease = new AbortController();
    let release: () => void = () => undefined;
    async function* body() {
      yield Buffer.from("first half, ");
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      yield Buffer.from("second half");
    }
    const put = files.put("acme/r1/slow.txt", Readable.from(body()), "text/plain", { signal: lease.signal });
    await new Promise((resolve) => setImmediate(resolve));
    lease.abort(new DOMException("attempt timed out", "TimeoutError"));
    // The handler learns why its attempt stopped.
    await expect(put).rejects.toMatchObject({ name: "TimeoutError" });
    // The body goes on to its end: nothing may be sent for it, now or once it has ended.
    release();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sent).toEqual([]);
    expect(await files.size("acme/r1/slow.txt")).toBeUndefined();
  });
});
