import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { z } from "zod";
import { ConflictError } from "../core/errors.ts";
import type { ClaimResult, Page, RunGuard, RunListQuery, RunPatch, RunStore } from "../core/ports.ts";
import { Run, type RunRef } from "../core/run.ts";
import { isConditionFailure } from "./clients.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { fromJsonAttribute, toJsonAttribute } from "./json-attributes.ts";

const RUN_SK = "run";
const KEY_ATTRIBUTES = ["pk", "sk", "tenantStatus", "tenantDefinition", "createdKey"] as const;

/** Runs in DynamoDB: one item per run, every status change a conditional UpdateItem. */
export class DynamoRunStore implements RunStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async create(run: Run): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: toItem(run),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    } catch (error) {
      if (isConditionFailure(error))
        throw new ConflictError(`run ${run.id} already exists`, { cause: error });
      throw error;
    }
  }

  async get(ref: RunRef): Promise<Run | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: keyOf(ref), ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : fromItem(result.Item);
  }

  async claim(ref: RunRef, at: { now: string; leaseUntil: string }): Promise<ClaimResult> {
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: keyOf(ref),
          UpdateExpression:
            "SET #status = :running, tenantStatus = :tenantStatus, attempts = attempts + :one, leaseUntil = :lease, " +
            "updatedAt = :now, startedAt = if_not_exists(startedAt, :now) REMOVE nextAttemptAt",
          // Claimable: queued and due, or running whose worker stopped renewing its lease
          // while attempts remain. Anything else belongs to someone else or is finished.
          ConditionExpression:
            "attribute_exists(pk) AND ((#status = :queued AND (attribute_not_exists(nextAttemptAt) OR nextAttemptAt <= :now)) " +
            "OR (#status = :running AND leaseUntil < :now AND attempts < maxAttempts))",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":running": "running",
            ":queued": "queued",
            ":tenantStatus": `${ref.tenant}#running`,
            ":one": 1,
            ":lease": at.leaseUntil,
            ":now": at.now,
          },
          ReturnValues: "ALL_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { claimed: true, run: fromItem(result.Attributes ?? {}) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Record<string, AttributeValue> }).Item;
      return { claimed: false, current: old === undefined ? undefined : fromItem(unmarshall(old)) };
    }
  }

  async update(ref: RunRef, guard: RunGuard, patch: RunPatch): Promise<Run | undefined> {
    const names: Record<string, string> = { "#status": "status" };
    const values: Record<string, unknown> = {
      ":guardStatus": guard.status,
      ":guardAttempts": guard.attempts,
    };
    const sets: string[] = [];
    const removes: string[] = [];
    for (const [field, value] of Object.entries(patch)) {
      if (field === "once" || value === undefined) continue;
      names[`#${field}`] = field;
      if (value === null) {
        removes.push(`#${field}`);
      } else {
        sets.push(`#${field} = :${field}`);
        values[`:${field}`] = field === "output" ? toJsonAttribute(value) : value;
      }
    }
    if (patch.status !== undefined && patch.status !== null) {
      sets.push("tenantStatus = :tenantStatus");
      values[":tenantStatus"] = `${ref.tenant}#${patch.status}`;
    }
    if (patch.once !== undefined) {
      names["#once"] = "once";
      names["#onceKey"] = patch.once.key;
      sets.push("#once.#onceKey = :onceRecord");
      values[":onceRecord"] = { ...patch.once.record, result: toJsonAttribute(patch.once.record.result) };
    }
    let condition = "#status = :guardStatus AND attempts = :guardAttempts";
    if (guard.leaseUntil !== undefined) {
      condition += " AND leaseUntil = :guardLease";
      values[":guardLease"] = guard.leaseUntil;
    }
    if (sets.length === 0 && removes.length === 0) return this.get(ref);
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: keyOf(ref),
          UpdateExpression: [
            sets.length > 0 ? `SET ${sets.join(", ")}` : "",
            removes.length > 0 ? `REMOVE ${removes.join(", ")}` : "",
          ].join(" "),
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: "ALL_NEW",
        }),
      );
      return fromItem(result.Attributes ?? {});
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async remove(ref: RunRef, guard: RunGuard): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: keyOf(ref),
          ConditionExpression: "#status = :status AND attempts = :attempts",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":status": guard.status, ":attempts": guard.attempts },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async list(query: RunListQuery): Promise<Page<Run>> {
    const { tenant } = query;
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor, RunCursor);
    let input: QueryCommandInput;
    const base = { TableName: this.#table, ScanIndexForward: false } as const;
    if (query.status !== undefined) {
      input = {
        ...base,
        IndexName: "byStatus",
        KeyConditionExpression: "tenantStatus = :pk",
        ExpressionAttributeValues: { ":pk": `${tenant}#${query.status}` },
      };
      if (query.definition !== undefined) {
        input.FilterExpression = "#definition = :definition";
        input.ExpressionAttributeNames = { "#definition": "definition" };
        input.ExpressionAttributeValues = {
          ...input.ExpressionAttributeValues,
          ":definition": query.definition,
        };
      }
    } else if (query.definition !== undefined) {
      input = {
        ...base,
        IndexName: "byDefinition",
        KeyConditionExpression: "tenantDefinition = :pk",
        ExpressionAttributeValues: { ":pk": `${tenant}#${query.definition}` },
      };
    } else {
      input = {
        ...base,
        IndexName: "byTenant",
        KeyConditionExpression: "tenant = :pk",
        ExpressionAttributeValues: { ":pk": tenant },
      };
    }

    // The cursor holds only the run's own position; the tenant parts are rebuilt from the
    // caller, so a cursor can never reach into another tenant's index partition.
    let startKey: Record<string, unknown> | undefined;
    if (position !== undefined) {
      startKey = { pk: `${tenant}#${position.id}`, sk: RUN_SK, createdKey: position.created };
      if (input.IndexName === "byTenant") startKey.tenant = tenant;
      if (input.IndexName === "byStatus") startKey.tenantStatus = `${tenant}#${query.status}`;
      if (input.IndexName === "byDefinition") startKey.tenantDefinition = `${tenant}#${query.definition}`;
    }

    const keys: Record<string, unknown>[] = [];
    // With a filter, a page may match fewer items than it read; read on (bounded) to fill it.
    for (let round = 0; round < 10 && keys.length < query.limit; round += 1) {
      const result = await this.#client.send(
        new QueryCommand({ ...input, Limit: query.limit - keys.length, ExclusiveStartKey: startKey }),
      );
      keys.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
      if (startKey === undefined) break;
    }
    const runs = await this.#batchGet(keys.map((item) => ({ pk: item.pk, sk: item.sk })));
    const cursor =
      startKey === undefined
        ? undefined
        : encodeCursor({
            id: String(startKey.pk).slice(tenant.length + 1),
            created: String(startKey.createdKey),
          });
    return { items: runs, ...(cursor === undefined ? {} : { cursor }) };
  }

  /** Full items for index keys, in the keys' order (BatchGet answers in any order). */
  async #batchGet(keys: Record<string, unknown>[]): Promise<Run[]> {
    const found = new Map<string, Run>();
    let pending = keys;
    for (let round = 0; pending.length > 0 && round < 5; round += 1) {
      const result = await this.#client.send(
        new BatchGetCommand({ RequestItems: { [this.#table]: { Keys: pending, ConsistentRead: true } } }),
      );
      for (const item of result.Responses?.[this.#table] ?? []) found.set(String(item.pk), fromItem(item));
      pending = (result.UnprocessedKeys?.[this.#table]?.Keys ?? []) as Record<string, unknown>[];
      if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
    }
    return keys.flatMap((key) => found.get(String(key.pk)) ?? []);
  }
}

const RunCursor = z.object({ id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), created: z.string().max(100) });

function keyOf(ref: RunRef): { pk: string; sk: string } {
  return { pk: `${ref.tenant}#${ref.id}`, sk: RUN_SK };
}

function toItem(run: Run): Record<string, unknown> {
  return {
    ...keyOf(run),
    ...run,
    params: toJsonAttribute(run.params),
    ...(run.output === undefined ? {} : { output: toJsonAttribute(run.output) }),
    once: Object.fromEntries(
      Object.entries(run.once).map(([key, record]) => [
        key,
        { ...record, result: toJsonAttribute(record.result) },
      ]),
    ),
    tenantStatus: `${run.tenant}#${run.status}`,
    tenantDefinition: `${run.tenant}#${run.definition}`,
    createdKey: `${run.createdAt}#${run.id}`,
  };
}

/** Items are read back through the schema: a malformed item fails loudly here, not deep in core. */
function fromItem(item: Record<string, unknown>): Run {
  const fields = { ...item };
  for (const attribute of KEY_ATTRIBUTES) delete fields[attribute];
  fields.params = fromJsonAttribute(fields.params);
  if (fields.output !== undefined) fields.output = fromJsonAttribute(fields.output);
  const once = (fields.once ?? {}) as Record<string, { result?: unknown }>;
  fields.once = Object.fromEntries(
    Object.entries(once).map(([key, record]) => [
      key,
      { ...record, result: fromJsonAttribute(record.result) },
    ]),
  );
  const parsed = Run.safeParse(fields);
  if (!parsed.success) {
    throw new Error(`run item ${String(item.pk)} does not match the Run schema: ${parsed.error.message}`);
  }
  return parsed.data;
}
