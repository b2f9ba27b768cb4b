/**
 * Counts AWS API calls by service and operation through an SDK middleware, for cost figures
 * (npm run bench) and tests that prove a path makes no more calls than it should.
 *
 * On DynamoDB it also asks for and sums the consumed capacity (ReturnConsumedCapacity INDEXES,
 * so GSI writes are included), because calls are not what on-demand bills: request units are.
 * A write refused by its condition returns no capacity, yet AWS bills it at least one write
 * unit per item, so those are counted separately. An SQS receive that returns nothing is
 * counted apart ("ReceiveMessage(empty)"): it is idle polling, not a cost of any one task.
 * SQS bills each 64 KB chunk of a request's payload as one request, so the message bodies sent
 * and received are measured too (billableSqsRequests), and split by queue (sqsRequestsByQueue).
 *
 * With attributeKeys on, every write unit is also attributed to the partition key it lands on,
 * the table's and each GSI's (shared/aws/write-attribution.ts): the counter reads each written
 * item before and after the write, with a client it does not see, to know which index entries
 * appear, move or disappear. That doubles the load on the store, so it is for measuring only.
 */
import { type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import type { InstrumentableClient } from "./instrument.ts";
import { TABLES, type TableName, type TableSchema } from "./tables.ts";
import {
  attributeReported,
  type KeyUnits,
  keyText,
  modelWrites,
  primaryKeyOf,
  type ReportedUnits,
  writtenItems,
} from "./write-attribution.ts";

/** DynamoDB operations that accept ReturnConsumedCapacity, and whether they read or write. */
const DYNAMO_UNITS: Record<string, "read" | "write"> = {
  GetItem: "read",
  BatchGetItem: "read",
  Query: "read",
  Scan: "read",
  TransactGetItems: "read",
  PutItem: "write",
  UpdateItem: "write",
  DeleteItem: "write",
  BatchWriteItem: "write",
  TransactWriteItems: "write",
};

interface Capacity {
  CapacityUnits?: number;
}

interface ConsumedCapacity extends Capacity {
  TableName?: string;
  Table?: Capacity;
  GlobalSecondaryIndexes?: Record<string, Capacity>;
  LocalSecondaryIndexes?: Record<string, Capacity>;
}

/** Request units consumed, as DynamoDB reports them (and AWS bills them). */
export interface CapacityUnits {
  read: number;
  write: number;
  /** Writes refused by their condition; each item costs at least 1 write unit on AWS. */
  refusedWrites: number;
}

/** What attributing write units to partition keys needs from whoever measures. */
export interface KeyAttribution {
  /** The logical name and key schema of a table by its physical name; undefined: not attributed. */
  tableOf(physical: string): { name: string; schema: TableSchema } | undefined;
  /** Reads an item (AttributeValues) by its key, strongly consistent, on a client the counter does not see. */
  read(physical: string, key: Record<string, unknown>): Promise<Record<string, unknown> | undefined>;
}

/**
 * Attribution over Baton's own tables (named `<prefix><table>`) with the key schemas of
 * shared/aws/tables.ts, the description the adapters and the CDK stack build from, so it follows
 * any change to the layout. `reader` must be a client the counter is not attached to.
 */
export function tablesKeyAttribution(reader: DynamoDBClient, prefix: string): KeyAttribution {
  return {
    tableOf(physical) {
      if (!physical.startsWith(prefix)) return undefined;
      const name = physical.slice(prefix.length);
      return Object.hasOwn(TABLES, name) ? { name, schema: TABLES[name as TableName] } : undefined;
    },
    async read(physical, key) {
      const got = await reader.send(
        new GetItemCommand({ TableName: physical, Key: key as never, ConsistentRead: true }),
      );
      return got.Item;
    },
  };
}

export class AwsCallCounter {
  readonly #counts = new Map<string, number>();
  readonly #unitsBy = new Map<string, number>();
  readonly #sqsByQueue = new Map<string, number>();
  readonly #keyUnits = new Map<string, KeyUnits>();
  #attribution: KeyAttribution | undefined;
  #sqsRequests = 0;
  #units: CapacityUnits = { read: 0, write: 0, refusedWrites: 0 };

  attach(client: InstrumentableClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const service = String(context.clientName).replace(/Client$/, "");
        const operation = String(context.commandName).replace(/Command$/, "");
        const kind = service === "DynamoDB" ? DYNAMO_UNITS[operation] : undefined;
        const input = args.input as Record<string, unknown>;
        const request =
          kind === undefined ? args : { ...args, input: { ...input, ReturnConsumedCapacity: "INDEXES" } };
        let output: Awaited<ReturnType<typeof next>>;
        try {
          output = await next(request);
        } catch (error) {
          this.#count(`${service}.${operation}`);
          if (kind === "write") this.#units.refusedWrites += refusedItems(input, error);
          throw error;
        }
        const result = output.output as Record<string, unknown>;
        const empty =
          service === "SQS" && operation === "ReceiveMessage" && !(result.Messages as unknown[])?.length;
        this.#count(`${service}.${operation}${empty ? "(empty)" : ""}`);
        if (service === "SQS" && !empty) {
          const chunks = billableChunks(input, result);
          this.#sqsRequests += chunks;
          this.#count(queueNameOf(input.QueueUrl), chunks, this.#sqsByQueue);
        }
        if (kind !== undefined) this.#addUnits(operation, kind, result.ConsumedCapacity);
        return output;
      },
      { step: "initialize", name: "batonCallCounter" },
    );
    // At the build step the document client has marshalled its input into AttributeValues.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const attribution = this.#attribution;
        const operation = String(context.commandName).replace(/Command$/, "");
        if (
          attribution === undefined ||
          !String(context.clientName).startsWith("DynamoDB") ||
          DYNAMO_UNITS[operation] !== "write"
        )
          return next(args);
        const input = args.input as Record<string, unknown>;
        const written = writtenItems(operation, input).flatMap((w) => {
          const table = attribution.tableOf(w.table);
          if (table === undefined) return [];
          const key = w.kind === "put" ? primaryKeyOf(w.item ?? {}, table.schema) : w.key;
          return [{ written: { ...w, key }, ...table }];
        });
        const old = await Promise.all(written.map((w) => attribution.read(w.written.table, w.written.key)));
        let output: Awaited<ReturnType<typeof next>>;
        try {
          output = await next(args);
        } catch (error) {
          const units = refusedItems(input, error) / Math.max(1, written.length);
          if (units > 0)
            for (const w of written)
              this.#addKeyUnits({
                table: w.name,
                key: keyText(w.written.key[w.schema.partitionKey]) ?? "?",
                units,
              });
          throw error;
        }
        const after = await Promise.all(
          written.map((w, i) =>
            w.written.kind === "put"
              ? w.written.item
              : w.written.kind === "delete"
                ? undefined
                : w.written.kind === "check"
                  ? old[i]
                  : attribution.read(w.written.table, w.written.key),
          ),
        );
        const modelled = written.flatMap((w, i) =>
          modelWrites(w.written, w.name, w.schema, old[i], after[i]),
        );
        const nameOf = (physical: string) => attribution.tableOf(physical)?.name ?? physical;
        const reported = reportedUnits((output.output as Record<string, unknown>).ConsumedCapacity).filter(
          (r) => attribution.tableOf(r.table) !== undefined,
        );
        for (const k of attributeReported(modelled, reported, nameOf)) this.#addKeyUnits(k);
        return output;
      },
      { step: "build", name: "batonKeyAttribution" },
    );
  }

  /** Attributes write units to partition keys from now on (undefined: stop). */
  attributeKeys(attribution: KeyAttribution | undefined): void {
    this.#attribution = attribution;
  }

  /** Write units so far by table, index and partition key (refused writes on the table's key). */
  unitsByKey(): KeyUnits[] {
    return [...this.#keyUnits.values()].map((k) => ({ ...k }));
  }

  /** Billable SQS requests so far by queue name (the last part of the queue URL). */
  sqsRequestsByQueue(): Record<string, number> {
    return Object.fromEntries(this.#sqsByQueue);
  }

  /** Calls so far, by "Service.Operation". */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** DynamoDB request units so far. */
  units(): CapacityUnits {
    return { ...this.#units };
  }

  /** DynamoDB request units so far by "Operation table" and "Operation table/index". */
  unitsByTarget(): Record<string, number> {
    return Object.fromEntries([...this.#unitsBy.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** SQS requests as billed: one per 64 KB chunk of payload, empty receives left out. */
  billableSqsRequests(): number {
    return this.#sqsRequests;
  }

  reset(): void {
    this.#sqsRequests = 0;
    this.#sqsByQueue.clear();
    this.#keyUnits.clear();
    this.#counts.clear();
    this.#unitsBy.clear();
    this.#units = { read: 0, write: 0, refusedWrites: 0 };
  }

  #count(key: string, by = 1, counts = this.#counts): void {
    counts.set(key, (counts.get(key) ?? 0) + by);
  }

  #addKeyUnits(k: KeyUnits): void {
    const id = JSON.stringify([k.table, k.index ?? "", k.key]);
    const current = this.#keyUnits.get(id);
    if (current === undefined) this.#keyUnits.set(id, { ...k });
    else current.units += k.units;
  }

  #addUnits(operation: string, kind: "read" | "write", consumed: unknown): void {
    const all = (
      Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed]
    ) as ConsumedCapacity[];
    for (const c of all) {
      this.#units[kind] += c.CapacityUnits ?? 0;
      const table = `${operation} ${c.TableName ?? "?"}`;
      this.#count(table, c.Table?.CapacityUnits ?? c.CapacityUnits ?? 0, this.#unitsBy);
      for (const indexes of [c.GlobalSecondaryIndexes, c.LocalSecondaryIndexes])
        for (const [index, units] of Object.entries(indexes ?? {}))
          this.#count(`${table}/${index}`, units.CapacityUnits ?? 0, this.#unitsBy);
    }
  }
}

/** Per-table and per-index units of a DynamoDB answer's ConsumedCapacity. */
function reportedUnits(consumed: unknown): ReportedUnits[] {
  const all = (
    Array.isArray(consumed) ? consumed : consumed === undefined ? [] : [consumed]
  ) as ConsumedCapacity[];
  return all.map((c) => ({
    table: c.TableName ?? "?",
    tableUnits: c.Table?.CapacityUnits ?? c.CapacityUnits ?? 0,
    indexes: Object.fromEntries(
      [
        ...Object.entries(c.GlobalSecondaryIndexes ?? {}),
        ...Object.entries(c.LocalSecondaryIndexes ?? {}),
      ].map(([index, units]) => [index, units.CapacityUnits ?? 0]),
    ),
  }));
}

function queueNameOf(url: unknown): string {
  return typeof url === "string" ? (url.split("/").at(-1) ?? url) : "?";
}

const SQS_CHUNK_BYTES = 64 * 1024;

/** Chunks of 64 KB in the bodies a request sends or a receive returns (at least one). */
function billableChunks(input: Record<string, unknown>, result: Record<string, unknown>): number {
  const bodies = [
    input.MessageBody,
    ...((input.Entries as { MessageBody?: unknown }[] | undefined) ?? []).map((e) => e.MessageBody),
    ...((result.Messages as { Body?: unknown }[] | undefined) ?? []).map((m) => m.Body),
  ];
  const bytes = bodies.reduce<number>(
    (sum, body) => sum + (typeof body === "string" ? Buffer.byteLength(body, "utf8") : 0),
    0,
  );
  return Math.max(1, Math.ceil(bytes / SQS_CHUNK_BYTES));
}

/** Items of a write that its condition refused (a cancelled transaction is billed per item, ×2). */
function refusedItems(input: Record<string, unknown>, error: unknown): number {
  const name = (error as { name?: string }).name;
  if (name === "ConditionalCheckFailedException") return 1;
  if (name === "TransactionCanceledException") return 2 * ((input.TransactItems as unknown[])?.length ?? 0);
  return 0;
}
