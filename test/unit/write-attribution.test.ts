import { describe, expect, it } from "vitest";
import { dynamoCeiling, hotKeys, lowest, shapeOf, sqsGroupCeiling } from "../../bench/hot-keys.ts";
import { TABLES } from "../../shared/aws/tables.ts";
import {
  attributeReported,
  type KeyUnits,
  modelWrites,
  primaryKeyOf,
  writtenItems,
} from "../../shared/aws/write-attribution.ts";

const S = (s: string) => ({ S: s });
const schema = {
  partitionKey: "pk",
  sortKey: "sk",
  indexes: {
    byStatus: { partitionKey: "tenantStatus", sortKey: "createdKey", include: ["definition"] },
    byTenant: { partitionKey: "tenant", sortKey: "createdKey" },
  },
} as const;
const run = (extra: Record<string, unknown> = {}) => ({
  pk: S("t1#R1"),
  sk: S("run"),
  tenant: S("t1"),
  createdKey: S("2026#R1"),
  definition: S("d1"),
  ...extra,
});

describe("which partition keys a write lands on", () => {
  it("lists every item of a transaction, batch and single write, with its kind", () => {
    const tx = writtenItems("TransactWriteItems", {
      TransactItems: [
        { Put: { TableName: "p-runs", Item: run() } },
        { Update: { TableName: "p-counters", Key: { pk: S("t1#d1") } } },
        { Delete: { TableName: "p-runs", Key: { pk: S("t1#R2"), sk: S("run") } } },
        { ConditionCheck: { TableName: "p-tenants", Key: { id: S("t1") } } },
      ],
    });
    expect(tx.map((w) => [w.table, w.kind, w.transactional])).toEqual([
      ["p-runs", "put", true],
      ["p-counters", "update", true],
      ["p-runs", "delete", true],
      ["p-tenants", "check", true],
    ]);
    const batch = writtenItems("BatchWriteItem", {
      RequestItems: {
        "p-runs": [{ PutRequest: { Item: run() } }, { DeleteRequest: { Key: { pk: S("x") } } }],
      },
    });
    expect(batch.map((w) => w.kind)).toEqual(["put", "delete"]);
    expect(writtenItems("UpdateItem", { TableName: "p-runs", Key: { pk: S("a") } })[0]?.transactional).toBe(
      false,
    );
    expect(writtenItems("GetItem", { TableName: "p-runs" })).toEqual([]);
    expect(primaryKeyOf(run(), schema)).toEqual({ pk: S("t1#R1"), sk: S("run") });
  });

  it("a put writes the table's key and each index the item is in; a status move writes the old and new index partitions", () => {
    const put = { table: "p-runs", kind: "put", key: {}, item: run(), transactional: false } as const;
    expect(modelWrites(put, "runs", schema, undefined, run({ tenantStatus: S("t1#active") }))).toEqual([
      { table: "runs", key: "t1#R1", units: 1 },
      { table: "runs", index: "byStatus", key: "t1#active", units: 1 },
      { table: "runs", index: "byTenant", key: "t1", units: 1 },
    ]);
    const update = { table: "p-runs", kind: "update", key: {}, transactional: true } as const;
    const moved = modelWrites(
      update,
      "runs",
      schema,
      run({ tenantStatus: S("t1#active") }),
      run({ tenantStatus: S("t1#failed") }),
    );
    // Transactional: the table write counts twice; the entry leaves one partition for another;
    // byTenant's entry is untouched (KEYS_ONLY, same key).
    expect(moved).toEqual([
      { table: "runs", key: "t1#R1", units: 2 },
      { table: "runs", index: "byStatus", key: "t1#active", units: 1 },
      { table: "runs", index: "byStatus", key: "t1#failed", units: 1 },
    ]);
  });

  it("bills an update by the larger of the old and new item, and leaves indexes alone when nothing projected changes", () => {
    const big = run({ params: S("x".repeat(300 * 1024)), tenantStatus: S("t1#active") });
    const update = { table: "p-runs", kind: "update", key: {}, transactional: false } as const;
    const writes = modelWrites(update, "runs", schema, big, { ...big, progress: { N: "0.5" } });
    expect(writes).toEqual([{ table: "runs", key: "t1#R1", units: 301 }]);
  });

  it("shares the units DynamoDB reported over the keys in proportion to the model, and keeps what it cannot place", () => {
    const modelled = [
      { table: "runs", key: "t1#R1", units: 2 },
      { table: "runs", key: "t1#idem", units: 2 },
      { table: "counters", key: "t1#d1", units: 2 },
    ];
    const nameOf = (physical: string) => physical.replace(/^p-/, "");
    const out = attributeReported(
      modelled,
      [
        { table: "p-runs", tableUnits: 6, indexes: { byWaiting: 2 } },
        { table: "p-counters", tableUnits: 2, indexes: {} },
      ],
      nameOf,
    );
    expect(out).toEqual([
      { table: "runs", key: "t1#R1", units: 3 },
      { table: "runs", key: "t1#idem", units: 3 },
      { table: "runs", index: "byWaiting", key: "?", units: 2 },
      { table: "counters", key: "t1#d1", units: 2 },
    ]);
  });

  it("reads the key schemas the adapters use: every GSI of the runs table is attributed", () => {
    const item: Record<string, unknown> = { pk: S("t1#R1"), sk: S("run") };
    for (const ix of Object.values(TABLES.runs.indexes)) {
      item[ix.partitionKey] = S(`${ix.partitionKey}-value`);
      if (ix.sortKey !== undefined) item[ix.sortKey] = S("sort");
    }
    const put = { table: "p-runs", kind: "put", key: {}, item, transactional: false } as const;
    const indexes = modelWrites(put, "runs", TABLES.runs, undefined, item).map((w) => w.index);
    expect(indexes.filter(Boolean).sort()).toEqual(Object.keys(TABLES.runs.indexes).sort());
  });
});

describe("hot keys and ceilings", () => {
  const names = { tenants: ["bench"], definitions: ["cost-plain"], queues: ["cost"] };

  it("reports keys by shape", () => {
    expect(shapeOf("bench#active", names)).toBe("<tenant>#active");
    expect(shapeOf("bench#active#3", names)).toBe("<tenant>#active#<shard>");
    expect(shapeOf("bench#cost-plain", names)).toBe("<tenant>#<definition>");
    expect(shapeOf("bench#01KB2Y7ZQ4V3N8M5X6W9T0R1S2", names)).toBe("<tenant>#<run>");
    expect(shapeOf("5", names)).toBe("<shard>");
    expect(shapeOf("bench#ch-_zlTpC9YNbx1UnGm-gEET7fOs-ePdCkm", names)).toBe("<tenant>#<run>");
    expect(shapeOf("bench#timed_out#12", names)).toBe("<tenant>#timed_out#<shard>");
    expect(shapeOf("bench#ch-WxDVUBpUnpDFSWHZtxSjqtEPCBLwWQet", names)).toBe("<tenant>#<run>");
    expect(shapeOf("bench#a_long_lowercase_index_group", names)).toBe(
      "<tenant>#a_long_lowercase_index_group",
    );
  });

  it("derives each ceiling from the hottest shared key: 1,000 WRU/s over its units per task, per shard when sharded", () => {
    const units: KeyUnits[] = [
      // 100 tasks: 2 units each on the tenant's active partition, 1 on the definition's …
      { table: "runs", index: "byStatus", key: "bench#active", units: 200 },
      { table: "runs", index: "byDefinition", key: "bench#cost-plain", units: 100 },
      // … 2 on the sweep index, over 5 shards (unevenly, as hashing does in a short run, and
      // shard 3 not at all) …
      { table: "runs", index: "bySweep", key: "0", units: 80 },
      { table: "runs", index: "bySweep", key: "1", units: 40 },
      { table: "runs", index: "bySweep", key: "2", units: 40 },
      { table: "runs", index: "bySweep", key: "4", units: 40 },
      // … and 3 on each run's own item, which bounds nothing.
      ...Array.from({ length: 100 }, (_, i) => ({
        table: "runs",
        key: `bench#01KB2Y7ZQ4V3N8M5X6W9T0R${String(i).padStart(3, "0")}`,
        units: 3,
      })),
    ];
    const keys = hotKeys(units, 100, names);
    expect(keys[0]).toMatchObject({
      index: "byStatus",
      key: "<tenant>#active",
      scope: "tenant",
      wruPerTask: 2,
    });
    expect(keys.find((k) => k.index === "bySweep")).toMatchObject({
      key: "<shard>",
      scope: "global",
      wruPerTask: 0.4,
      keys: 4,
    });
    expect(dynamoCeiling(keys, ["tenant", "global"]).perSecond).toBe(500);
    expect(dynamoCeiling(keys, ["global"])).toMatchObject({ perSecond: 2500 });
    expect(dynamoCeiling(keys, ["global"]).boundBy).toContain("bySweep");
    expect(
      dynamoCeiling(
        keys.filter((k) => k.scope === "run"),
        ["global"],
      ).perSecond,
    ).toBeNull();
    expect(sqsGroupCeiling(3).perSecond).toBe(100);
    expect(lowest(dynamoCeiling(keys, ["definition"]), sqsGroupCeiling(3)).perSecond).toBe(100);
  });

  it("counts a sharded key's unsuffixed shard 0 as one of its shards, not as a key of its own", () => {
    // 100 tasks over 4 counter shards: shard 0 keeps "<tenant>#<definition>", and hashing gave it
    // the most runs in this short sample.
    const units: KeyUnits[] = [
      { table: "counters", key: "bench#cost-plain", units: 160 },
      { table: "counters", key: "bench#cost-plain#1", units: 80 },
      { table: "counters", key: "bench#cost-plain#2", units: 80 },
      { table: "counters", key: "bench#cost-plain#3", units: 80 },
    ];
    expect(hotKeys(units, 100, names)).toEqual([
      {
        table: "counters",
        index: "",
        key: "<tenant>#<definition>#<shard>",
        scope: "definition",
        wruPerTask: 1,
        keys: 4,
      },
    ]);
    // Without sharded keys beside it, the key stands alone.
    expect(hotKeys(units.slice(0, 1), 100, names)[0]).toMatchObject({
      key: "<tenant>#<definition>",
      wruPerTask: 1.6,
    });
  });
});
