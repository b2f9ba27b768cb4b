import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { BULK_LIMITS, type BulkRecord } from "../core/bulk.ts";
import type { BulkRef, BulkStore } from "../core/ports.ts";
import { isConditionFailure } from "./clients.ts";

/**
 * Bulks live in the runs table, under a partition of their tenant's own: pk "<tenant>#bulks",
 * with sk "bulk#<bulk id>" for each bulk's record and sk "running" for the set of the tenant's
 * running bulks (its size is the concurrency limit's condition). No run writes that partition (a
 * run's pk is "<tenant>#<run id>", and its items' sks are "run", "params", "output", "logs" and
 * "tree"), so a bulk's writes — one per page — never contend with runs, and the migration script
 * (which reads sk "run" only) passes them by. A running bulk is in the bySweep index under the
 * shard "bulk", which no run uses (runs use "0".."127"), so the sweeper finds stalled bulks with one
 * query and runs' sweep queries never see them.
 */
const SWEEP_SHARD = "bulk";
const RUNNING_SK = "running";
const DAY_SECONDS = 24 * 60 * 60;

function partitionOf(tenant: string): string {
  return `${tenant}#bulks`;
}

function recordKey(tenant: string, id: string): { pk: string; sk: string } {
  return { pk: partitionOf(tenant), sk: `bulk#${id}` };
}

type Item = Record<string, unknown>;

function toItem(bulk: BulkRecord): Item {
  return {
    ...recordKey(bulk.tenant, bulk.id),
    ...bulk,
    // Running: findable by the sweeper. Ended: out of the index, and gone after the retention.
    ...(bulk.status === "running" && bulk.sweepAt !== undefined
      ? { sweepShard: SWEEP_SHARD }
      : {
          sweepAt: undefined,
          expiresAt:
            Math.floor(Date.parse(bulk.endedAt ?? bulk.updatedAt) / 1000) +
            BULK_LIMITS.retentionDays * DAY_SECONDS,
        }),
  };
}

function fromItem(item: Item): BulkRecord {
  const { pk: _pk, sk: _sk, sweepShard: _shard, expiresAt: _expires, ...bulk } = item;
  return bulk as unknown as BulkRecord;
}

export class DynamoBulkStore implements BulkStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async create(bulk: BulkRecord, maxRunning: number): Promise<boolean> {
    // Two creates of one tenant at once conflict as transactions: the loser tries again.
    for (let round = 0; ; round += 1) {
      const created = await this.#tryCreate(bulk, maxRunning);
      if (created !== "conflict") return created;
      if (round === 2) throw new Error("bulk create kept conflicting with another transaction");
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
    }
  }

  async #tryCreate(bulk: BulkRecord, maxRunning: number): Promise<boolean | "conflict"> {
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.#table,
                Item: toItem(bulk),
                ConditionExpression: "attribute_not_exists(pk)",
              },
            },
            {
              Update: {
                TableName: this.#table,
                Key: { pk: partitionOf(bulk.tenant), sk: RUNNING_SK },
                UpdateExpression: "ADD running :id",
                ConditionExpression: "attribute_not_exists(running) OR size(running) < :max",
                ExpressionAttributeValues: { ":id": new Set([bulk.id]), ":max": maxRunning },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof Error) || error.name !== "TransactionCanceledException") throw error;
      const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? [];
      // The running set is full (or, never in practice, the bulk id is taken).
      if (reasons.some((reason) => reason.Code === "ConditionalCheckFailed")) return false;
      return "conflict";
    }
  }

  async get(tenant: string, id: string): Promise<BulkRecord | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: recordKey(tenant, id), ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : fromItem(result.Item);
  }

  async savePage(next: BulkRecord, expectedPage: number): Promise<boolean> {
    const put = {
      Put: {
        TableName: this.#table,
        Item: toItem(next),
        ConditionExpression: "#status = :running AND #page = :page",
        ExpressionAttributeNames: { "#status": "status", "#page": "page" },
        ExpressionAttributeValues: { ":running": "running", ":page": expectedPage },
      },
    };
    try {
      if (next.status === "running") {
        await this.#client.send(new PutCommand(put.Put));
      } else {
        await this.#client.send(
          new TransactWriteCommand({
            TransactItems: [
              put,
              {
                Update: {
                  TableName: this.#table,
                  Key: { pk: partitionOf(next.tenant), sk: RUNNING_SK },
                  UpdateExpression: "DELETE running :id",
                  ExpressionAttributeValues: { ":id": new Set([next.id]) },
                },
              },
            ],
          }),
        );
      }
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      if (error instanceof Error && error.name === "TransactionCanceledException") {
        const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
        if (reasons?.[0]?.Code === "ConditionalCheckFailed") return false;
      }
      throw error;
    }
  }

  async dueForSweep(now: string, limit: number): Promise<BulkRef[]> {
    const result = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: "bySweep",
        KeyConditionExpression: "sweepShard = :shard AND sweepAt <= :now",
        ExpressionAttributeValues: { ":shard": SWEEP_SHARD, ":now": now },
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map((item) => ({
      tenant: String(item.pk).slice(0, -"#bulks".length),
      id: String(item.sk).slice("bulk#".length),
    }));
  }

  async moveSweepAt(ref: BulkRef, expect: { page: number; was: string }, sweepAt: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: recordKey(ref.tenant, ref.id),
          UpdateExpression: "SET sweepAt = :next",
          ConditionExpression: "#status = :running AND #page = :page AND sweepAt = :was",
          ExpressionAttributeNames: { "#status": "status", "#page": "page" },
          ExpressionAttributeValues: {
            ":running": "running",
            ":page": expect.page,
            ":was": expect.was,
            ":next": sweepAt,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }
}
