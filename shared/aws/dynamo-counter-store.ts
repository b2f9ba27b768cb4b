import { type DynamoDBDocumentClient, GetCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { CounterEffect, CounterStore, Counters, Page } from "../core/ports.ts";
import { isConditionFailure } from "./clients.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";

/**
 * Admission counters, one item per limited definition: `running` (runs holding a slot) and
 * `waiting`. Every change is part of a transaction with the run it concerns (see
 * DynamoRunStore); this store only reads them and, for the sweeper, repairs them.
 *
 * Each item is one partition key: DynamoDB takes about 1,000 writes/s on it, and a run of a
 * limited definition changes it twice (start or promotion, then the end), so one definition
 * admits about 500 runs/s on AWS. Unlimited definitions have no counters item at all.
 */
export class DynamoCounterStore implements CounterStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async get(tenant: string, definition: string): Promise<Counters | undefined> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: counterKey(tenant, definition) },
        ConsistentRead: true,
      }),
    );
    return result.Item === undefined ? undefined : StoredCounters.parse(result.Item);
  }

  async list(cursor?: string): Promise<Page<Counters>> {
    const start = cursor === undefined ? undefined : decodeCursor(cursor, CountersCursor);
    const result = await this.#client.send(
      new ScanCommand({
        TableName: this.#table,
        Limit: 100,
        ConsistentRead: true,
        ...(start === undefined ? {} : { ExclusiveStartKey: { pk: start.pk } }),
      }),
    );
    const last = result.LastEvaluatedKey;
    return {
      items: (result.Items ?? []).map((item) => StoredCounters.parse(item)),
      ...(last === undefined ? {} : { cursor: encodeCursor({ pk: String(last.pk) }) }),
    };
  }

  async repair(
    counters: Counters,
    values: { running: number; waiting: number; at: string },
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: counterKey(counters.tenant, counters.definition) },
          UpdateExpression:
            "SET #running = :running, #waiting = :waiting, #version = #version + :one, updatedAt = :at",
          // Only if no admission changed them since they were read: a repair never undoes a real change.
          ConditionExpression: "#version = :version",
          ExpressionAttributeNames: COUNTER_NAMES,
          ExpressionAttributeValues: {
            ":running": values.running,
            ":waiting": values.waiting,
            ":one": 1,
            ":at": values.at,
            ":version": counters.version,
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

/** Aliased: DynamoDB reserves many plain words in expressions. */
const COUNTER_NAMES = { "#running": "running", "#waiting": "waiting", "#version": "version" };

function counterKey(tenant: string, definition: string): string {
  return `${tenant}#${definition}`;
}

/** The counters half of an admission transaction (see DynamoRunStore). */
export function counterUpdate(table: string, tenant: string, effect: CounterEffect) {
  const conditions: string[] = [];
  const values: Record<string, unknown> = {
    ":zero": 0,
    ":one": 1,
    ":running": effect.running ?? 0,
    ":waiting": effect.waiting ?? 0,
    ":tenant": tenant,
    ":definition": effect.definition,
    ":at": effect.at,
  };
  if (effect.require?.runningBelow !== undefined) {
    conditions.push("(attribute_not_exists(#running) OR #running < :runningBelow)");
    values[":runningBelow"] = effect.require.runningBelow;
  }
  if (effect.require?.waitingBelow !== undefined) {
    conditions.push("(attribute_not_exists(#waiting) OR #waiting < :waitingBelow)");
    values[":waitingBelow"] = effect.require.waitingBelow;
  }
  if (effect.require?.noneWaiting === true)
    conditions.push("(attribute_not_exists(#waiting) OR #waiting <= :zero)");
  return {
    TableName: table,
    Key: { pk: counterKey(tenant, effect.definition) },
    UpdateExpression:
      "SET #tenant = :tenant, #definition = :definition, #running = if_not_exists(#running, :zero) + :running, " +
      "#waiting = if_not_exists(#waiting, :zero) + :waiting, #version = if_not_exists(#version, :zero) + :one, updatedAt = :at",
    ...(conditions.length === 0 ? {} : { ConditionExpression: conditions.join(" AND ") }),
    ExpressionAttributeNames: { ...COUNTER_NAMES, "#tenant": "tenant", "#definition": "definition" },
    ExpressionAttributeValues: values,
  };
}

const StoredCounters = z.object({
  tenant: z.string(),
  definition: z.string(),
  running: z.number(),
  waiting: z.number(),
  version: z.number(),
  updatedAt: z.string(),
});

const CountersCursor = z.object({ pk: z.string().max(200) });
