/**
 * `npm run migrate` on DynamoDB Local: a runs table of the previous layout (its indexes, its
 * items) is migrated twice, the second time finding nothing to do, and every run then reads and
 * lists through DynamoRunStore under every filter.
 */
import { createHash } from "node:crypto";
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTableInput, tableNames } from "../../local/bootstrap.ts";
import { type Emulators, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from "../../local/emulators.ts";
import { migrate } from "../../scripts/migrate.ts";
import { DynamoRunStore } from "../../shared/aws/dynamo-run-store.ts";
import { PREVIOUS_RUN_INDEXES, TABLES, type TableSchema } from "../../shared/aws/tables.ts";
import { newRun } from "../../shared/core/lifecycle.ts";
import type { Run } from "../../shared/core/run.ts";
import { uniquePrefix } from "../support/stack.ts";

// A DynamoDB Local of its own: adding an index to a table (what the local migration does) waits
// for its backfill, which the shared emulator, busy with the other test files, can stall for minutes.
let emulators: Emulators | undefined;
let raw: DynamoDBClient;
let documents: DynamoDBDocumentClient;
beforeAll(async () => {
  emulators = await startEmulators({ log: () => undefined });
  raw = new DynamoDBClient({
    region: LOCAL_REGION,
    endpoint: emulators.dynamodbEndpoint,
    credentials: LOCAL_CREDENTIALS,
  });
  documents = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
}, 120_000);
afterAll(async () => {
  raw?.destroy();
  await emulators?.stop();
});

/** The runs table as the previous layout built it: unsharded byTenant, byDefinition, byWaiting by age alone. */
const { byTenantShard: _new, byWaitingLine: _line, ...kept } = TABLES.runs.indexes;
const PREVIOUS_RUNS: TableSchema = { ...TABLES.runs, indexes: { ...kept, ...PREVIOUS_RUN_INDEXES } };

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function aRun(id: string, definition: string, overrides: Partial<Run>): Run {
  return {
    ...newRun(
      {
        tenant: "acme",
        id,
        definition: {
          tenant: "acme",
          name: definition,
          handler: "echo",
          params: {},
          maxAttempts: 2,
          timeoutSeconds: 60,
          createdAt: "",
          updatedAt: "",
        },
        params: { n: id },
        createdBy: "key1",
      },
      "queued",
      new Date(T0),
    ),
    ...overrides,
  };
}

/** A run item exactly as the previous layout wrote it. */
function previousItem(run: Run): Record<string, unknown> {
  const group =
    run.status === "succeeded"
      ? undefined
      : ["failed", "cancelled", "timed_out"].includes(run.status)
        ? run.status
        : "active";
  const oldShard = (createHash("sha256").update(run.id).digest()[0] ?? 0) % 8;
  return {
    pk: `${run.tenant}#${run.id}`,
    sk: "run",
    ...run,
    params: JSON.stringify(run.params),
    ...(run.output === undefined ? {} : { output: JSON.stringify(run.output) }),
    ...(group === undefined ? {} : { tenantStatus: `${run.tenant}#${group}` }),
    tenantDefinition: `${run.tenant}#${run.definition}`,
    createdKey: `${run.createdAt}#${run.id}`,
    ...(run.sweepAt === undefined ? {} : { sweepShard: String(oldShard) }),
    ...(run.status === "waiting" ? { waitingFor: `${run.tenant}#${run.definition}` } : {}),
  };
}

describe("npm run migrate", () => {
  it("moves a previous-layout runs table to the current one, idempotently, and every listing finds its runs", async () => {
    const prefix = uniquePrefix();
    const names = tableNames(prefix);
    await raw.send(new CreateTableCommand(createTableInput(names.runs, PREVIOUS_RUNS)));
    const runs = [
      aRun("a1", "alpha", { createdAt: at(1) }),
      aRun("a2", "beta", {
        createdAt: at(2),
        status: "running",
        attempts: 1,
        leaseUntil: at(9_000),
        sweepAt: at(60_000),
      }),
      aRun("a3", "alpha", { createdAt: at(3), status: "failed", attempts: 2, endedAt: at(5) }),
      aRun("a4", "beta", {
        createdAt: at(4),
        status: "succeeded",
        attempts: 1,
        endedAt: at(5),
        output: { ok: true },
      }),
      aRun("a5", "alpha", {
        createdAt: at(5),
        status: "running",
        attempts: 1,
        leaseUntil: at(9_000),
        sweepAt: at(60_000),
      }),
      aRun("a6", "beta", { createdAt: at(6), params: { blob: "b".repeat(300 * 1024) } }),
      aRun("a7", "gamma", { createdAt: at(7), status: "waiting" }),
      aRun("a8", "gamma", { createdAt: at(8), status: "waiting", priority: 3 }),
    ];
    for (const run of runs)
      await documents.send(new PutCommand({ TableName: names.runs, Item: previousItem(run) }));

    const first = await migrate({ raw, table: names.runs, localPrefix: prefix });
    expect(first).toEqual({
      runs: 8,
      updated: 8,
      droppedIndexes: expect.arrayContaining(["byTenant", "byDefinition", "byWaiting"]),
    });
    expect(first.droppedIndexes).toHaveLength(3);
    const second = await migrate({ raw, table: names.runs, localPrefix: prefix });
    expect(second).toEqual({ runs: 8, updated: 0, droppedIndexes: [] });
    const indexes = (await raw.send(new DescribeTableCommand({ TableName: names.runs }))).Table
      ?.GlobalSecondaryIndexes;
    expect(new Set(indexes?.map((index) => index.IndexName))).toEqual(
      new Set(Object.keys(TABLES.runs.indexes)),
    );

    const store = new DynamoRunStore({
      client: documents,
      tableName: names.runs,
      countersTable: names.counters,
    });
    for (const run of runs) expect(await store.get(run)).toEqual(run);
    const ids = async (query: { status?: Run["status"]; definition?: string }) =>
      (await store.list({ tenant: "acme", limit: 10, ...query })).items.map((run) => run.id);
    expect(await ids({})).toEqual(["a8", "a7", "a6", "a5", "a4", "a3", "a2", "a1"]);
    // The waiting runs are in the waiting index, by priority then age.
    expect((await store.waiting("acme", "gamma", 10)).map((ref) => ref.id)).toEqual(["a8", "a7"]);
    expect(await ids({ definition: "alpha" })).toEqual(["a5", "a3", "a1"]);
    expect(await ids({ status: "running" })).toEqual(["a5", "a2"]);
    expect(await ids({ status: "queued", definition: "beta" })).toEqual(["a6"]);
    expect(await ids({ status: "failed" })).toEqual(["a3"]);
    expect(await ids({ status: "succeeded" })).toEqual(["a4"]);
    expect((await store.dueForSweep(at(120_000), 10)).map((ref) => ref.id).sort()).toEqual(["a2", "a5"]);
    // A run of the previous layout, its params still in its own item, ends through the store.
    const big = runs[5] as Run;
    await store.claim(big, { now: at(10), leaseUntil: at(9_000) });
    const ended = await store.update(
      big,
      { status: "running", attempts: 1 },
      { status: "succeeded", endedAt: at(11) },
    );
    expect(ended).toMatchObject({ status: "succeeded", params: big.params });
  }, 180_000); // creating tables with indexes on DynamoDB Local is slow on a busy machine
});
