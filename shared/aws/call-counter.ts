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
 * and received are measured too (billableSqsRequests).
 */
import type { InstrumentableClient } from "./instrument.ts";

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

export class AwsCallCounter {
  readonly #counts = new Map<string, number>();
  readonly #unitsBy = new Map<string, number>();
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
        if (service === "SQS" && !empty) this.#sqsRequests += billableChunks(input, result);
        if (kind !== undefined) this.#addUnits(operation, kind, result.ConsumedCapacity);
        return output;
      },
      { step: "initialize", name: "batonCallCounter" },
    );
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
    this.#counts.clear();
    this.#unitsBy.clear();
    this.#units = { read: 0, write: 0, refusedWrites: 0 };
  }

  #count(key: string, by = 1, counts = this.#counts): void {
    counts.set(key, (counts.get(key) ?? 0) + by);
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
