/**
 * Which partition keys a DynamoDB write lands on, and how many write units each gets: the
 * table's own partition and every GSI partition the write touches, from the items' key
 * attributes and the table's key schema (shared/aws/tables.ts, the same description the adapters
 * and the CDK stack use). The call counter uses it to find hot keys (npm run bench -- --cost).
 *
 * DynamoDB reports units per table and per index for a whole call, not per item or key. So each
 * item's write is modelled by DynamoDB's billing rules (an item write is billed by the larger of
 * the old and the new item, per started KB, twice in a transaction; an index entry that appears,
 * disappears or changes is one write on its partition, a moved entry a delete on the old
 * partition and a put on the new one), and the units DynamoDB reported for each table and index
 * are shared out over the keys in proportion to the model. The totals are therefore DynamoDB's,
 * the split the model's. Units the model cannot place go to the key "?".
 *
 * Items are DynamoDB AttributeValue maps, as on the wire. Pure: no SDK, no I/O.
 */
import { dynamoItemBytes } from "./aws-limits.ts";
import type { TableSchema } from "./tables.ts";

type Item = Record<string, unknown>;

/** One item a write request touches. */
export interface WrittenItem {
  /** The table's name as sent (physical, prefixed). */
  table: string;
  kind: "put" | "update" | "delete" | "check";
  /** The item's primary key attributes. */
  key: Item;
  /** The whole new item, for a put. */
  item?: Item;
  transactional: boolean;
}

/** Units that landed on one partition key of a table or of one of its indexes. */
export interface KeyUnits {
  /** The table's logical name (a key of TABLES), or the physical one if it has no schema. */
  table: string;
  /** The GSI, or undefined for the table itself. */
  index?: string;
  /** The partition key's value. */
  key: string;
  units: number;
}

/** Every item a DynamoDB write request touches (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems). */
export function writtenItems(operation: string, input: Record<string, unknown>): WrittenItem[] {
  const table = String(input.TableName ?? "");
  switch (operation) {
    case "PutItem":
      return [{ table, kind: "put", key: {}, item: input.Item as Item, transactional: false }];
    case "UpdateItem":
      return [{ table, kind: "update", key: input.Key as Item, transactional: false }];
    case "DeleteItem":
      return [{ table, kind: "delete", key: input.Key as Item, transactional: false }];
    case "BatchWriteItem": {
      const requests = (input.RequestItems ?? {}) as Record<
        string,
        Array<{ PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }>
      >;
      return Object.entries(requests).flatMap(([name, list]) =>
        list.map(
          (r): WrittenItem =>
            r.PutRequest
              ? { table: name, kind: "put", key: {}, item: r.PutRequest.Item, transactional: false }
              : { table: name, kind: "delete", key: r.DeleteRequest?.Key ?? {}, transactional: false },
        ),
      );
    }
    case "TransactWriteItems": {
      type Entry = { TableName: string; Item?: Item; Key?: Item };
      const items = (input.TransactItems ?? []) as Array<
        Partial<Record<"Put" | "Update" | "Delete" | "ConditionCheck", Entry>>
      >;
      return items.flatMap((t): WrittenItem[] => {
        if (t.Put)
          return [
            { table: t.Put.TableName, kind: "put", key: {}, item: t.Put.Item ?? {}, transactional: true },
          ];
        if (t.Update)
          return [
            { table: t.Update.TableName, kind: "update", key: t.Update.Key ?? {}, transactional: true },
          ];
        if (t.Delete)
          return [
            { table: t.Delete.TableName, kind: "delete", key: t.Delete.Key ?? {}, transactional: true },
          ];
        if (t.ConditionCheck)
          return [
            {
              table: t.ConditionCheck.TableName,
              kind: "check",
              key: t.ConditionCheck.Key ?? {},
              transactional: true,
            },
          ];
        return [];
      });
    }
    default:
      return [];
  }
}

/** The primary key of an item under a schema (for puts, whose request carries no Key). */
export function primaryKeyOf(item: Item, schema: TableSchema): Item {
  const key: Item = {};
  for (const name of [schema.partitionKey, schema.sortKey])
    if (name !== undefined && item[name] !== undefined) key[name] = item[name];
  return key;
}

/** A key attribute's value as text: Baton's key attributes are all strings ({S}); numbers and binaries are shown too. */
export function keyText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  const v = value as { S?: unknown; N?: unknown; B?: unknown } | undefined;
  if (typeof v?.S === "string") return v.S;
  if (typeof v?.N === "string") return v.N;
  if (v?.B !== undefined) return Buffer.from(v.B as Uint8Array).toString("base64");
  return undefined;
}

const KB = 1024;
const unitsOf = (bytes: number) => Math.max(1, Math.ceil(bytes / KB));

/** One modelled write on a partition: table (index undefined) or index. */
interface ModelledWrite {
  table: string;
  index?: string;
  key: string;
  units: number;
}

/**
 * The modelled writes of one item, given the item before (`old`) and after (`next`) the request
 * (undefined: absent). `name` is the logical table name reported.
 */
export function modelWrites(
  written: WrittenItem,
  name: string,
  schema: TableSchema,
  old: Item | undefined,
  next: Item | undefined,
): ModelledWrite[] {
  const factor = written.transactional ? 2 : 1;
  const tableKey =
    keyText((next ?? old ?? written.item ?? written.key)[schema.partitionKey]) ??
    keyText(written.key[schema.partitionKey]) ??
    "?";
  const bytes = Math.max(old ? dynamoItemBytes(old) : 0, next ? dynamoItemBytes(next) : 0);
  const writes: ModelledWrite[] = [{ table: name, key: tableKey, units: factor * unitsOf(bytes) }];
  if (written.kind === "check") return writes;
  for (const [index, ix] of Object.entries(schema.indexes)) {
    const projected = [
      schema.partitionKey,
      schema.sortKey,
      ix.partitionKey,
      ix.sortKey,
      ...(ix.include ?? []),
    ].filter((a): a is string => a !== undefined);
    const entry = (item: Item | undefined) => {
      if (item === undefined) return undefined;
      if (item[ix.partitionKey] === undefined) return undefined;
      if (ix.sortKey !== undefined && item[ix.sortKey] === undefined) return undefined;
      return Object.fromEntries(projected.filter((a) => item[a] !== undefined).map((a) => [a, item[a]]));
    };
    const before = entry(old);
    const after = entry(next);
    if (before === undefined && after === undefined) continue;
    const partition = (e: Item) => keyText(e[ix.partitionKey]) ?? "?";
    const sameKey =
      before !== undefined &&
      after !== undefined &&
      JSON.stringify(before[ix.partitionKey]) === JSON.stringify(after[ix.partitionKey]) &&
      (ix.sortKey === undefined || JSON.stringify(before[ix.sortKey]) === JSON.stringify(after[ix.sortKey]));
    if (sameKey) {
      // Same entry: written again only if a projected attribute changed.
      if (JSON.stringify(before) !== JSON.stringify(after))
        writes.push({ table: name, index, key: partition(after), units: unitsOf(dynamoItemBytes(after)) });
      continue;
    }
    if (before !== undefined)
      writes.push({ table: name, index, key: partition(before), units: unitsOf(dynamoItemBytes(before)) });
    if (after !== undefined)
      writes.push({ table: name, index, key: partition(after), units: unitsOf(dynamoItemBytes(after)) });
  }
  return writes;
}

/** What DynamoDB reported for one call, per table (physical name) and per index. */
export interface ReportedUnits {
  table: string;
  tableUnits: number;
  indexes: Record<string, number>;
}

/**
 * Shares the units DynamoDB reported over the modelled writes of the same table and index, in
 * proportion to the model. `nameOf` maps a physical table name to the logical one.
 */
export function attributeReported(
  modelled: ModelledWrite[],
  reported: ReportedUnits[],
  nameOf: (physical: string) => string,
): KeyUnits[] {
  const out: KeyUnits[] = [];
  const share = (table: string, index: string | undefined, units: number) => {
    if (units <= 0) return;
    const targets = modelled.filter((w) => w.table === table && w.index === index);
    const weight = targets.reduce((sum, w) => sum + w.units, 0);
    if (weight === 0) {
      out.push({ table, ...(index === undefined ? {} : { index }), key: "?", units });
      return;
    }
    for (const w of targets)
      out.push({
        table,
        ...(index === undefined ? {} : { index }),
        key: w.key,
        units: (units * w.units) / weight,
      });
  };
  for (const r of reported) {
    const table = nameOf(r.table);
    share(table, undefined, r.tableUnits);
    for (const [index, units] of Object.entries(r.indexes)) share(table, index, units);
  }
  return out;
}
