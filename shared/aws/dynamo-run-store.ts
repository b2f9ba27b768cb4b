import { createHash } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { shardScope } from "../core/admission-shards.ts";
import { AttemptRecord } from "../core/attempts.ts";
import type { DebounceRecord } from "../core/debounce.ts";
import { ConflictError } from "../core/errors.ts";
import { CLAIM_CHECK_BYTES } from "../core/limits.ts";
import {
  type ClaimResult,
  type CounterEffect,
  type CreateExtras,
  type CreateResult,
  type HandOffResult,
  type IdempotencyRecord,
  type Page,
  type RunCountsByDefinition,
  type RunGuard,
  type RunListQuery,
  type RunPatch,
  type RunStore,
  type RunWrite,
  type ShardedRef,
  type StartedRun,
  TENANT_SCOPE,
  type TransitionResult,
  type WaitingRun,
} from "../core/ports.ts";
import { isTerminal, Run, type RunRef, type RunStatus, RunSummary } from "../core/run.ts";
import { AWS_LIMITS } from "./aws-limits.ts";
import { isConditionFailure } from "./clients.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { counterUpdate } from "./dynamo-counter-store.ts";
import { fromJsonAttribute, toJsonAttribute } from "./json-attributes.ts";
import { PayloadPointer, type PayloadStore } from "./payload-store.ts";
import {
  BESIDE_FIELDS,
  type BesideField,
  createdKeyOf,
  DUE_SHARDS,
  dueShardOf,
  keptBeside,
  LIST_ROUNDS,
  LIST_SHARDS,
  lineKeyOf,
  mayWait,
  mergeShardPages,
  RunCursor,
  type ShardPage,
  StartedCursor,
  SWEEP_SHARDS,
  statusKeyOf,
  statusShardKeys,
  sweepShardOf,
  tenantShardKeyOf,
  tenantShardKeys,
} from "./run-keys.ts";

const RUN_SK = "run";
const IDEMPOTENCY_SK = "idempotency";
const DEBOUNCE_SK = "debounce";
/**
 * A chain tree's run count: item pk "<root tenant>#<root run id>", sk "tree", beside the root run's
 * item. One partition per tree (not a hot key: a tree holds at most its limit of runs), in no index.
 */
const TREE_SK = "tree";
/** Kept longer than any tree can grow: a hop can be delayed a year at most, and trees are shallow. */
const TREE_COUNT_DAYS = 400;
/** Index attributes derived from the run; never part of the Run itself. */
const DERIVED_ATTRIBUTES = [
  "pk",
  "sk",
  "tenantShard",
  "tenantStatus",
  "tenantDefinition",
  "createdKey",
  "waitingFor",
  "lineKey",
  "slotFor",
  "admissionKey",
  "tenantSlotFor",
  "sweepShard",
  "dueShard",
  "originKey",
  "expiresAt",
  "paramsBeside",
  "outputBeside",
  "logsBeside",
] as const;
/** The hot item's mark that a bulky field lives in its own item beside it (see BESIDE_FIELDS). */
const BESIDE_MARKERS = {
  params: "paramsBeside",
  output: "outputBeside",
  logs: "logsBeside",
} as const satisfies Record<BesideField, (typeof DERIVED_ATTRIBUTES)[number]>;
const DAY_SECONDS = 24 * 60 * 60;
/** A bulky item's pointer to its field's JSON in S3, in place of the JSON (payload-store.ts). */
const CLAIM_ATTRIBUTE = "claim";

type Item = Record<string, unknown>;
type TransactItem = NonNullable<TransactWriteCommandInput["TransactItems"]>[number];

/**
 * Runs in DynamoDB: one item per run, every status change a conditional write. Writes that also
 * change a definition's counters or record an idempotency key are one TransactWriteItems.
 */
export class DynamoRunStore implements RunStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #countersTable: string;
  readonly #retentionDays: number | undefined;
  readonly #payloads: PayloadStore | undefined;

  constructor(options: {
    client: DynamoDBDocumentClient;
    tableName: string;
    countersTable: string;
    /**
     * Days an ended run is kept: every write that ends a run also sets `expiresAt` (the table's
     * TTL attribute) to its end plus this many days, and DynamoDB deletes it some time after.
     * Runs that have not ended never expire. Absent: ended runs are kept for good.
     */
    retentionDays?: number;
    /**
     * Where params and output above CLAIM_CHECK_BYTES go (S3); the item beside the run then holds
     * a pointer. Absent: they stay in that item, up to DynamoDB's 400 KB item limit.
     */
    payloads?: PayloadStore;
  }) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#countersTable = options.countersTable;
    this.#retentionDays = options.retentionDays;
    this.#payloads = options.payloads;
  }

  /**
   * The bulky items with every payload above CLAIM_CHECK_BYTES moved to S3 and replaced by its
   * pointer. The objects are written here, before the DynamoDB write that points to them: a
   * failed write leaves an object nothing points to (the lifecycle rule deletes it), never a
   * pointer to nothing.
   */
  async #claimCheck(beside: readonly Item[]): Promise<Item[]> {
    const payloads = this.#payloads;
    if (payloads === undefined) return [...beside];
    return Promise.all(
      beside.map(async (item) => {
        const field = String(item.sk);
        const json = item[field];
        if (typeof json !== "string" || Buffer.byteLength(json, "utf8") <= CLAIM_CHECK_BYTES) return item;
        const { [field]: _inline, ...rest } = item;
        return { ...rest, [CLAIM_ATTRIBUTE]: await payloads.put(refOfPk(String(item.pk)), field, json) };
      }),
    );
  }

  /** A bulky item as its field's JSON: a claim-checked one read back from S3. */
  async #redeemed(aside: Item): Promise<Item> {
    const claim = aside[CLAIM_ATTRIBUTE];
    if (claim === undefined) return aside;
    const pointer = PayloadPointer.parse(claim);
    // Only ever written from the run's own ref; a pointer elsewhere is corrupt, or planted, data.
    const ref = refOfPk(String(aside.pk));
    if (!pointer.key.startsWith(`${ref.tenant}/${ref.id}/`)) {
      throw new Error(`run item ${String(aside.pk)} points to a payload outside its run: ${pointer.key}`);
    }
    if (this.#payloads === undefined) {
      throw new Error(
        `run item ${String(aside.pk)} keeps its ${String(aside.sk)} in S3, but no payload store is set`,
      );
    }
    return { ...aside, [String(aside.sk)]: await this.#payloads.get(pointer) };
  }

  /** The TTL (epoch seconds) of a run that ended at `endedAt`, if ended runs expire. */
  #expiryOf(endedAt: string | null | undefined): number | undefined {
    if (this.#retentionDays === undefined) return undefined;
    const ended = typeof endedAt === "string" ? Date.parse(endedAt) : Number.NaN;
    // An end always carries endedAt; a write without one still expires, counted from now.
    const from = Number.isNaN(ended) ? Date.now() : ended;
    return Math.floor(from / 1000) + this.#retentionDays * DAY_SECONDS;
  }

  async create(run: Run, extras: CreateExtras = {}): Promise<CreateResult> {
    const counters = extras.counters ?? [];
    const expiresAt = isTerminal(run.status) ? this.#expiryOf(run.endedAt) : undefined;
    const expiry = expiresAt === undefined ? {} : { expiresAt };
    const { item, beside: inline } = toItem(run);
    const beside = await this.#claimCheck(inline);
    const put = {
      TableName: this.#table,
      Item: { ...item, ...expiry },
      ConditionExpression: "attribute_not_exists(pk)",
    };
    if (
      counters.length === 0 &&
      extras.idempotency === undefined &&
      extras.debounce === undefined &&
      beside.length === 0
    ) {
      try {
        await this.#client.send(new PutCommand(put));
        return { ok: true };
      } catch (error) {
        if (isConditionFailure(error))
          throw new ConflictError(`run ${run.id} already exists`, { cause: error });
        throw error;
      }
    }
    const items: TransactItem[] = [{ Put: put }];
    for (const effect of counters)
      items.push({ Update: counterUpdate(this.#countersTable, run.tenant, effect) });
    const keyIndex = extras.idempotency === undefined ? -1 : items.length;
    if (extras.idempotency !== undefined) {
      const record = extras.idempotency;
      items.push({
        Put: {
          TableName: this.#table,
          Item: { ...idempotencyKeyOf(record.tenant, record.key), ...record },
          // A key is free if unused or if its record outlived its 24 h (TTL deletes lazily).
          ConditionExpression: "attribute_not_exists(pk) OR expiresAt < :now",
          ExpressionAttributeValues: { ":now": Math.floor(Date.parse(run.createdAt) / 1000) },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        },
      });
    }
    const debounceIndex = extras.debounce === undefined ? -1 : items.length;
    if (extras.debounce !== undefined) {
      const { record, replaces } = extras.debounce;
      items.push({
        Put: {
          TableName: this.#table,
          Item: { ...debounceKeyOf(record.tenant, record.definition, record.key), ...record },
          // The window is free if nobody opened one, or if the one there is the window that closed.
          ConditionExpression:
            replaces === undefined
              ? "attribute_not_exists(pk)"
              : "attribute_not_exists(pk) OR runId = :replaces",
          ...(replaces === undefined ? {} : { ExpressionAttributeValues: { ":replaces": replaces } }),
        },
      });
    }
    // The bulky fields' own items go last: they have no condition, so never refuse.
    for (const aside of beside)
      items.push({ Put: { TableName: this.#table, Item: { ...aside, ...expiry } } });
    const failed = await this.#transact(items);
    if (failed === undefined) return { ok: true };
    if (failed.index === 0) throw new ConflictError(`run ${run.id} already exists`);
    const refusing = counters[failed.index - 1];
    if (refusing !== undefined) return { ok: false, cause: "counter", definition: refusing.definition };
    if (failed.index === keyIndex && failed.item !== undefined) {
      return { ok: false, cause: "idempotency", existing: toIdempotency(failed.item) };
    }
    if (failed.index === debounceIndex) return { ok: false, cause: "debounce" };
    throw new Error(`transaction refused by item ${failed.index}`);
  }

  async getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: idempotencyKeyOf(tenant, key), ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : toIdempotency(result.Item);
  }

  async getDebounce(tenant: string, definition: string, key: string): Promise<DebounceRecord | undefined> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: debounceKeyOf(tenant, definition, key),
        ConsistentRead: true,
      }),
    );
    return result.Item === undefined ? undefined : toDebounce(result.Item);
  }

  async get(ref: RunRef): Promise<Run | undefined> {
    const item = await this.#getItem(ref);
    return item === undefined ? undefined : this.#complete(item);
  }

  /** The run's hot item as stored. */
  async #getItem(ref: RunRef): Promise<Item | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: keyOf(ref), ConsistentRead: true }),
    );
    return result.Item;
  }

  /** The run of a hot item, with the bulky fields it keeps beside it read back in. */
  async #complete(item: Item): Promise<Run> {
    const fields = besideFieldsOf(item);
    if (fields.length === 0) return fromItem(item);
    const ref = refOfPk(String(item.pk));
    const result = await this.#client.send(
      new BatchGetCommand({
        RequestItems: {
          [this.#table]: { Keys: fields.map((field) => besideKeyOf(ref, field)), ConsistentRead: true },
        },
      }),
    );
    const beside = new Map<string, Item>();
    for (const found of result.Responses?.[this.#table] ?? []) beside.set(String(found.sk), found);
    // Unprocessed keys (throttling) are read one by one rather than failing the read.
    for (const field of fields) {
      if (beside.has(field)) continue;
      const one = await this.#client.send(
        new GetCommand({ TableName: this.#table, Key: besideKeyOf(ref, field), ConsistentRead: true }),
      );
      if (one.Item !== undefined) beside.set(field, one.Item);
    }
    const redeemed = await Promise.all([...beside.values()].map((aside) => this.#redeemed(aside)));
    return fromItem(item, new Map(redeemed.map((aside) => [String(aside.sk), aside])));
  }

  /**
   * A run just ended with an expiry: its bulky items that this write did not replace get the same
   * expiry, so TTL takes them with the run. A crash before this leaves them without one (they
   * are then only storage, found by `npm run migrate`'s leftovers count, not a wrong answer).
   */
  /**
   * After a transactional end, the bulky items already beside the run expire with it. The engine
   * passes the whole run as the ref: when every bulky field of it is inline there is nothing
   * beside to expire, so the end of a small run reads nothing more.
   */
  async #expireBesideAfterEnd(
    ref: RunRef | Run,
    expiresAt: number | undefined,
    rewritten: readonly Item[],
  ): Promise<void> {
    if (expiresAt === undefined) return;
    if ("params" in ref && !BESIDE_FIELDS.some((field) => keptBeside(ref[field]))) return;
    const item = await this.#getItem(ref);
    if (item !== undefined) await this.#expireBeside(item, expiresAt, rewritten);
  }

  async #expireBeside(hot: Item, expiresAt: number | undefined, rewritten: readonly Item[]): Promise<void> {
    if (expiresAt === undefined) return;
    const ref = refOfPk(String(hot.pk));
    const replaced = new Set(rewritten.map((item) => String(item.sk)));
    await Promise.all(
      besideFieldsOf(hot)
        .filter((field) => !replaced.has(field))
        .map(async (field) => {
          try {
            await this.#client.send(
              new UpdateCommand({
                TableName: this.#table,
                Key: besideKeyOf(ref, field),
                UpdateExpression: "SET expiresAt = :expiresAt",
                ConditionExpression: "attribute_exists(pk)",
                ExpressionAttributeValues: { ":expiresAt": expiresAt },
              }),
            );
          } catch (error) {
            if (!isConditionFailure(error)) throw error;
          }
        }),
    );
  }

  async claim(ref: RunRef, at: { now: string; leaseUntil: string }): Promise<ClaimResult> {
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: keyOf(ref),
          UpdateExpression:
            // tenantStatus stays "active" and sweepAt is left as it is (the sweeper pushes an
            // existing one past a live lease; a run sent before it was written has none, and SQS
            // redelivery covers its lost worker), so a claim rewrites no index entry: 1 write unit.
            "SET #status = :running, attempts = attempts + :one, leaseUntil = :lease, " +
            "updatedAt = :now, startedAt = if_not_exists(startedAt, :now), attemptStartedAt = :now " +
            "REMOVE nextAttemptAt",
          // Claimable: queued and due, or running whose worker stopped renewing its lease while
          // attempts remain and nobody asked to cancel it. Anything else is someone else's.
          ConditionExpression:
            "attribute_exists(pk) AND ((#status = :queued AND (attribute_not_exists(nextAttemptAt) OR nextAttemptAt <= :now)) " +
            "OR (#status = :running AND leaseUntil < :now AND attempts < maxAttempts AND attribute_not_exists(cancelRequestedAt)))",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: {
            ":running": "running",
            ":queued": "queued",
            ":one": 1,
            ":lease": at.leaseUntil,
            ":now": at.now,
          },
          ReturnValues: "ALL_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { claimed: true, run: await this.#complete(result.Attributes ?? {}) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Record<string, AttributeValue> }).Item;
      return {
        claimed: false,
        current: old === undefined ? undefined : await this.#complete(unmarshall(old)),
      };
    }
  }

  async update(ref: RunRef, guard: RunGuard, patch: RunPatch): Promise<Run | undefined> {
    const expiresAt = this.#expiryFor(patch);
    const planned = runUpdate(this.#table, ref, guard, patch, expiresAt, this.#recordExpiry());
    const update = planned.update;
    if (update === undefined) return this.get(ref);
    const beside = await this.#claimCheck(planned.beside);
    if (beside.length === 0) {
      try {
        const result = await this.#client.send(new UpdateCommand({ ...update, ReturnValues: "ALL_NEW" }));
        const item = result.Attributes ?? {};
        await this.#expireBeside(item, expiresAt, beside);
        return await this.#complete(item);
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        throw error;
      }
    }
    const failed = await this.#transact([{ Update: update }, ...this.#besidePuts(beside)]);
    if (failed !== undefined) return undefined;
    const item = await this.#getItem(ref);
    if (item === undefined) return undefined;
    await this.#expireBeside(item, expiresAt, beside);
    return this.#complete(item);
  }

  async transition(
    ref: ShardedRef,
    guard: RunGuard,
    patch: RunPatch,
    counters: readonly CounterEffect[] = [],
  ): Promise<TransitionResult> {
    const expiresAt = this.#expiryFor(patch);
    const planned = runUpdate(this.#table, ref, guard, patch, expiresAt, this.#recordExpiry());
    const update = planned.update;
    const beside = await this.#claimCheck(planned.beside);
    if (counters.length === 0 && beside.length === 0) {
      // Only whether it applied matters here: no item comes back to be parsed (the end of every
      // unlimited run takes this path), unless its bulky items must expire with it.
      if (update === undefined)
        return (await this.get(ref)) === undefined ? { ok: false, cause: "run" } : { ok: true };
      try {
        const result = await this.#client.send(
          new UpdateCommand(expiresAt === undefined ? update : { ...update, ReturnValues: "ALL_NEW" }),
        );
        if (result.Attributes !== undefined) await this.#expireBeside(result.Attributes, expiresAt, beside);
        return { ok: true };
      } catch (error) {
        if (isConditionFailure(error)) return { ok: false, cause: "run" };
        throw error;
      }
    }
    if (update === undefined) throw new Error("a transition needs something to change");
    // The bulky fields' items go last: they have no condition, so the index of a refusal still
    // tells the run (0) from a counter (1…).
    const failed = await this.#transact([
      { Update: { ...update, ReturnValuesOnConditionCheckFailure: "ALL_OLD" } },
      ...counters.map((effect) => ({ Update: counterUpdate(this.#countersTable, ref.tenant, effect) })),
      ...this.#besidePuts(beside),
    ]);
    if (failed === undefined) {
      await this.#expireBesideAfterEnd(ref, expiresAt, beside);
      return { ok: true };
    }
    const refusing = counters[failed.index - 1];
    if (failed.index === 0 || refusing === undefined) {
      return {
        ok: false,
        cause: "run",
        ...(failed.item === undefined ? {} : { current: await this.#complete(failed.item) }),
      };
    }
    return { ok: false, cause: "counter", definition: refusing.definition };
  }

  #besidePuts(beside: readonly Item[]): TransactItem[] {
    return beside.map((item) => ({ Put: { TableName: this.#table, Item: item } }));
  }

  async handOff(
    ending: RunWrite,
    next: RunWrite,
    counters: readonly CounterEffect[],
  ): Promise<HandOffResult> {
    const endingExpiry = this.#expiryFor(ending.patch);
    const endingWrite = runUpdate(
      this.#table,
      ending.ref,
      ending.guard,
      ending.patch,
      endingExpiry,
      this.#recordExpiry(),
    );
    const nextWrite = runUpdate(this.#table, next.ref, next.guard, next.patch, this.#expiryFor(next.patch));
    if (endingWrite.update === undefined || nextWrite.update === undefined)
      throw new Error("a hand-off needs two changes");
    // The bulky fields' items go last: they have no condition, so a refusal's index still names
    // the ending run (0), the next one (1) or a counter (2…).
    const failed = await this.#transact([
      { Update: endingWrite.update },
      { Update: nextWrite.update },
      ...counters.map((effect) => ({
        Update: counterUpdate(this.#countersTable, ending.ref.tenant, effect),
      })),
      ...this.#besidePuts(await this.#claimCheck([...endingWrite.beside, ...nextWrite.beside])),
    ]);
    if (failed === undefined) {
      await this.#expireBesideAfterEnd(ending.ref, endingExpiry, endingWrite.beside);
      return { ok: true };
    }
    if (failed.index === 0) return { ok: false, cause: "run" };
    if (failed.index === 1) return { ok: false, cause: "next" };
    const refusing = counters[failed.index - 2];
    if (refusing === undefined) throw new Error(`transaction refused by item ${failed.index}`);
    return { ok: false, cause: "counter", definition: refusing.definition };
  }

  /**
   * The expiry of an attempt record written before its run ends (a retry): the run's retention
   * from now, plus ATTEMPT_RECORD_SLACK_DAYS for the rest of the run to end. A run that lasts longer
   * than that after a failed attempt may lose the record early (its page then shows fewer attempts).
   */
  #recordExpiry(): number | undefined {
    if (this.#retentionDays === undefined) return undefined;
    return Math.floor(Date.now() / 1000) + (this.#retentionDays + ATTEMPT_RECORD_SLACK_DAYS) * DAY_SECONDS;
  }

  /** The expiry a write sets: only a write that ends the run (terminal statuses are final). */
  #expiryFor(patch: RunPatch): number | undefined {
    const status = patch.status;
    return status !== undefined && status !== null && isTerminal(status)
      ? this.#expiryOf(patch.endedAt)
      : undefined;
  }

  async waiting(tenant: string, definition: string, limit: number): Promise<WaitingRun[]> {
    const result = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: "byWaitingLine",
        KeyConditionExpression: "waitingFor = :key",
        ExpressionAttributeValues: { ":key": `${tenant}#${definition}` },
        ScanIndexForward: true,
        Limit: limit,
      }),
    );
    return (result.Items ?? []).map((item) => ({
      ...refOfPk(String(item.pk)),
      ...(typeof item.queue === "string" ? { queue: item.queue } : {}),
      timeoutSeconds: Number(item.timeoutSeconds),
    }));
  }

  async countHolders(tenant: string, definition: string): Promise<{ running: number; waiting: number }> {
    const key = `${tenant}#${definition}`;
    const [running, waiting] = await Promise.all([
      definition === TENANT_SCOPE
        ? this.#count("byTenantSlot", "tenantSlotFor", tenant)
        : this.#count("bySlot", "slotFor", key),
      this.#count("byWaitingLine", "waitingFor", key),
    ]);
    return { running, waiting };
  }

  dueForSweep(now: string, limit: number): Promise<RunRef[]> {
    return this.#dueAcrossShards("bySweep", "sweepShard", "sweepAt", SWEEP_SHARDS, now, limit);
  }

  dueToStart(now: string, limit: number): Promise<RunRef[]> {
    return this.#dueAcrossShards("byDue", "dueShard", "scheduledFor", DUE_SHARDS, now, limit);
  }

  async #dueAcrossShards(
    index: string,
    shardKey: string,
    timeKey: string,
    shards: number,
    now: string,
    limit: number,
  ) {
    const pages = await Promise.all(
      Array.from({ length: shards }, (_, shard) =>
        this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: index,
            KeyConditionExpression: "#shard = :shard AND #time <= :now",
            ExpressionAttributeNames: { "#shard": shardKey, "#time": timeKey },
            ExpressionAttributeValues: { ":shard": String(shard), ":now": now },
            Limit: limit,
          }),
        ),
      ),
    );
    return pages.flatMap((page) => (page.Items ?? []).map((item) => refOfPk(String(item.pk))));
  }

  async #count(indexName: string, attribute: string, key: string): Promise<number> {
    let count = 0;
    let start: Item | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: indexName,
          KeyConditionExpression: "#key = :key",
          ExpressionAttributeNames: { "#key": attribute },
          ExpressionAttributeValues: { ":key": key },
          Select: "COUNT",
          ExclusiveStartKey: start,
        }),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return count;
  }

  /** Runs a transaction; returns which item's condition refused it (and that item), if any. */
  async #transact(items: TransactItem[]): Promise<{ index: number; item?: Item } | undefined> {
    try {
      await this.#client.send(new TransactWriteCommand({ TransactItems: items }));
      return undefined;
    } catch (error) {
      const reasons = (
        error as { CancellationReasons?: Array<{ Code?: string; Item?: Record<string, AttributeValue> }> }
      ).CancellationReasons;
      if (!(error instanceof Error) || error.name !== "TransactionCanceledException" || reasons === undefined)
        throw error;
      const index = reasons.findIndex((reason) => reason.Code === "ConditionalCheckFailed");
      // Any other reason (a conflicting concurrent transaction, throttling) is worth a retry by the caller.
      if (index < 0) throw error;
      const raw = reasons[index]?.Item;
      return { index, ...(raw === undefined ? {} : { item: unmarshall(raw) }) };
    }
  }

  async countTreeRun(root: RunRef, below: number, at: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: `${root.tenant}#${root.id}`, sk: TREE_SK },
          UpdateExpression:
            "SET treeRuns = if_not_exists(treeRuns, :zero) + :one, updatedAt = :at, expiresAt = :expires",
          ConditionExpression: "attribute_not_exists(treeRuns) OR treeRuns < :below",
          ExpressionAttributeValues: {
            ":zero": 0,
            ":one": 1,
            ":at": at,
            ":below": below,
            ":expires": Math.floor(Date.parse(at) / 1000) + TREE_COUNT_DAYS * DAY_SECONDS,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async startedBy(origin: RunRef, page: { limit: number; cursor?: string }): Promise<Page<StartedRun>> {
    const originKey = originKeyOf({ tenant: origin.tenant, taskId: origin.id });
    const position = page.cursor === undefined ? undefined : decodeCursor(page.cursor, StartedCursor);
    const result = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: "byOrigin",
        KeyConditionExpression: "originKey = :origin",
        ExpressionAttributeValues: { ":origin": originKey },
        ScanIndexForward: true,
        Limit: page.limit,
        // The cursor names only the child; the origin part is rebuilt from the caller's run.
        ...(position === undefined
          ? {}
          : {
              ExclusiveStartKey: {
                pk: `${position.tenant}#${position.id}`,
                sk: RUN_SK,
                originKey,
                createdKey: position.created,
              },
            }),
      }),
    );
    const items = (result.Items ?? []).map((item): StartedRun => {
      const child = refOfPk(String(item.pk));
      const parsed = Run.shape.origin.safeParse(item.origin);
      return {
        ...child,
        definition: String(item.definition),
        trigger: Run.shape.trigger.parse(item.trigger) ?? "api",
        via:
          parsed.success && parsed.data !== undefined
            ? parsed.data.via
            : item.trigger === "replay"
              ? "replay"
              : "",
        createdAt: String(item.createdKey).split("#")[0] ?? "",
      };
    });
    const last = result.LastEvaluatedKey;
    const cursor =
      last === undefined
        ? undefined
        : encodeCursor({ ...refOfPk(String(last.pk)), created: String(last.createdKey) });
    return { items, ...(cursor === undefined ? {} : { cursor }) };
  }

  async attemptRecords(ref: RunRef): Promise<AttemptRecord[]> {
    const records: AttemptRecord[] = [];
    let start: Item | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: { ":pk": keyOf(ref).pk, ":prefix": ATTEMPT_SK_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const parsed = AttemptRecord.safeParse(fromJsonAttribute(item.record));
        // A record this version cannot read is left out rather than failing the run's page.
        if (parsed.success) records.push(parsed.data);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return records.sort((a, b) => a.attempt - b.attempt);
  }

  /**
   * Reads the tenant's entries of byTenantShard and of each byStatus group created since `since`,
   * shard by shard (the index copies only keys and the definition: about 150 bytes an entry, so a
   * 1 MB page holds thousands). Cost: 16 × 5 queries, and 0.5 read units per 4 KB of entries read.
   * The `active` group holds every unfinished status and not the status itself, so its entries'
   * runs are read (#statusesOf: about 0.5 read units per unfinished run) and counted under the
   * status their item has then.
   */
  async countSince(tenant: string, since: string, maxPerShard: number): Promise<RunCountsByDefinition> {
    let complete = true;
    /** A shard's entries since then, oldest first, at most maxPerShard, with the attributes named. */
    const readShard = async (index: string, attribute: string, partition: string, attributes: string[]) => {
      const entries: Item[] = [];
      let start: Item | undefined;
      do {
        const page = await this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: index,
            KeyConditionExpression: "#partition = :pk AND createdKey >= :since",
            ExpressionAttributeNames: {
              "#partition": attribute,
              ...Object.fromEntries(attributes.map((name) => [`#${name}`, name])),
            },
            ExpressionAttributeValues: { ":pk": partition, ":since": since },
            ProjectionExpression: attributes.map((name) => `#${name}`).join(", "),
            Limit: maxPerShard - entries.length,
            ExclusiveStartKey: start,
          }),
        );
        entries.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start !== undefined && entries.length < maxPerShard);
      if (start !== undefined) complete = false;
      return entries;
    };
    const byDefinition = (items: Item[]) => {
      const counts: Record<string, number> = {};
      for (const item of items) counts[String(item.definition)] = (counts[String(item.definition)] ?? 0) + 1;
      return counts;
    };
    const everyShard = (partitions: string[], index: string, attribute: string, attributes: string[]) =>
      Promise.all(partitions.map((partition) => readShard(index, attribute, partition, attributes))).then(
        (shards) => shards.flat(),
      );
    const group = (name: string, attributes: string[]) =>
      everyShard(
        Array.from({ length: LIST_SHARDS }, (_, shard) => `${tenant}#${name}#${shard}`),
        "byStatus",
        "tenantStatus",
        attributes,
      );
    const unfinished = async () => {
      // The index's base-table keys (always projected) name the runs; only the caller's tenant's.
      const keys = (await group("active", ["pk", "sk"])).filter((key) =>
        String(key.pk).startsWith(`${tenant}#`),
      );
      const { items, whole } = await this.#statusesOf(keys.map((key) => ({ pk: key.pk, sk: key.sk })));
      if (!whole) complete = false;
      return items;
    };
    const [all, active, failed, cancelled, timedOut] = await Promise.all([
      everyShard(tenantShardKeys(tenant), "byTenantShard", "tenantShard", ["definition"]),
      unfinished(),
      group("failed", ["definition"]),
      group("cancelled", ["definition"]),
      group("timed_out", ["definition"]),
    ]);
    // What each run's item says now: one that succeeded since its index entry was read is in none
    // of these (it is counted as the rest of the total, like every succeeded run).
    const withStatus = (status: RunStatus) => byDefinition(active.filter((item) => item.status === status));
    return {
      total: byDefinition(all),
      byStatus: {
        scheduled: withStatus("scheduled"),
        waiting: withStatus("waiting"),
        queued: withStatus("queued"),
        running: withStatus("running"),
        awaiting: withStatus("awaiting"),
        failed: sumCounts(byDefinition(failed), withStatus("failed")),
        cancelled: sumCounts(byDefinition(cancelled), withStatus("cancelled")),
        timed_out: sumCounts(byDefinition(timedOut), withStatus("timed_out")),
      },
      complete,
    };
  }

  /**
   * The status and definition of runs by their keys: eventually consistent (0.5 read units per
   * item under 4 KB, a run's hot item keeping its bulky fields beside it), at most
   * AWS_LIMITS.dynamoBatchGetKeys keys a call, one call at a time. Keys the table refuses to read
   * (throttling) are asked for again a few times, then left out: `whole` is then false. A run gone
   * since its index entry was read is simply not there.
   */
  async #statusesOf(keys: Item[]): Promise<{ items: Item[]; whole: boolean }> {
    // One chunk at a time: a tenant may have thousands of unfinished runs to count.
    const read = await this.#batchGetItems(
      keys,
      { chunk: AWS_LIMITS.dynamoBatchGetKeys, sideBySide: 1 },
      {
        ConsistentRead: false,
        ProjectionExpression: "#status, #definition",
        ExpressionAttributeNames: { "#status": "status", "#definition": "definition" },
      },
    );
    return { items: read.items, whole: read.unread === 0 };
  }

  /**
   * BatchGetItem over `keys` in chunks of `chunk`, `sideBySide` at a time, each asking again for the keys
   * DynamoDB left unprocessed (throttling, its 16 MB answer limit), up to 5 rounds with backoff.
   * The items read, in any order, and how many keys stayed unread.
   */
  async #batchGetItems(
    keys: readonly Item[],
    { chunk, sideBySide }: { chunk: number; sideBySide: number },
    options: {
      ConsistentRead: boolean;
      ProjectionExpression?: string;
      ExpressionAttributeNames?: Record<string, string>;
    },
  ): Promise<{ items: Item[]; unread: number }> {
    const items: Item[] = [];
    let unread = 0;
    const chunks: Item[][] = [];
    for (let i = 0; i < keys.length; i += chunk) chunks.push(keys.slice(i, i + chunk));
    for (let wave = 0; wave < chunks.length; wave += sideBySide) {
      await Promise.all(
        chunks.slice(wave, wave + sideBySide).map(async (first) => {
          let pending = first;
          for (let round = 0; pending.length > 0 && round < 5; round += 1) {
            if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
            const result = await this.#client.send(
              new BatchGetCommand({ RequestItems: { [this.#table]: { ...options, Keys: pending } } }),
            );
            items.push(...(result.Responses?.[this.#table] ?? []));
            pending = (result.UnprocessedKeys?.[this.#table]?.Keys ?? []) as Item[];
          }
          unread += pending.length;
        }),
      );
    }
    return { items, unread };
  }

  async list(query: RunListQuery): Promise<Page<RunSummary>> {
    const { tenant, status, definition } = query;
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor, RunCursor);
    // The tenant's partitions of one index, one per shard: byStatus for a status that has its
    // own group, else byTenantShard (succeeded runs, the bulk, are only there). The definition is a
    // filter on the index's copy of it. The partitions come from the caller's tenant, never the
    // cursor, so a cursor can never reach into another tenant's index partition.
    const statusKeys = status === undefined ? [] : statusShardKeys(tenant, status);
    const [index, keyAttribute, partitions] =
      statusKeys.length > 0
        ? (["byStatus", "tenantStatus", statusKeys] as const)
        : (["byTenantShard", "tenantShard", tenantShardKeys(tenant)] as const);
    // Creation times bound the sort key (never a filter): a key condition has one sort-key
    // clause, so with both bounds it is BETWEEN, whose inclusive top is dropped below.
    const after = query.createdAfter;
    const shardQuery = (partition: string, below: string | undefined, need: number): QueryCommandInput => ({
      TableName: this.#table,
      IndexName: index,
      ScanIndexForward: false,
      KeyConditionExpression: `#partition = :pk${sortKeyRange(below, after)}`,
      ExpressionAttributeNames: {
        "#partition": keyAttribute,
        ...(definition === undefined ? {} : { "#definition": "definition" }),
      },
      ExpressionAttributeValues: {
        ":pk": partition,
        ...(below === undefined ? {} : { ":below": below }),
        ...(after === undefined ? {} : { ":after": after }),
        ...(definition === undefined ? {} : { ":definition": definition }),
      },
      ...(definition === undefined ? {} : { FilterExpression: "#definition = :definition" }),
      Limit: need,
    });

    let below = lowerKey(position?.created, query.createdBefore);
    const runs: RunSummary[] = [];
    // A partition may hold runs of other statuses (see statusGroupOf), and a definition filter
    // skips some: read on (bounded) to fill the page. The status is checked on the item read
    // consistently, which also drops index entries that lag behind a run's latest status.
    let cutShort: RunSummary | undefined;
    for (let round = 0; round < LIST_ROUNDS && runs.length < query.limit; round += 1) {
      const need = query.limit - runs.length;
      const pages = await Promise.all(
        partitions.map(async (partition): Promise<ShardPage<{ pk: unknown; sk: unknown }>> => {
          const result = await this.#client.send(new QueryCommand(shardQuery(partition, below, need)));
          const last = result.LastEvaluatedKey;
          return {
            entries: (result.Items ?? [])
              .filter((item) => item.createdKey !== below)
              .map((item) => ({
                createdKey: String(item.createdKey),
                entry: { pk: item.pk, sk: item.sk },
              })),
            ...(last === undefined ? {} : { lastKey: String(last.createdKey) }),
          };
        }),
      );
      const merged = mergeShardPages(pages, need);
      const keys = merged.take.map((taken) => taken.entry);
      const found = await this.#batchGet(keys);
      // Keys DynamoDB left unprocessed (throttling, its 16 MB answer limit) end the page there,
      // and the cursor resumes after the last run read: none is skipped.
      const complete = found.length === keys.length;
      runs.push(...found.filter((run) => status === undefined || run.status === status));
      if (!complete) {
        cutShort = found[found.length - 1] ?? runs[runs.length - 1];
        // Not one run read: an empty page would look like the end of the list.
        if (cutShort === undefined) throw new Error("DynamoDB kept refusing the runs of a list page");
        break;
      }
      below = merged.next;
      if (below === undefined) break;
    }
    const next = cutShort !== undefined ? createdKeyOf(cutShort) : below;
    const cursor =
      next === undefined
        ? undefined
        : encodeCursor({ id: next.slice(next.lastIndexOf("#") + 1), created: next });
    return { items: runs, ...(cursor === undefined ? {} : { cursor }) };
  }

  /**
   * The runs of index keys as a list shows them (hot items only: nothing beside them, nothing
   * from S3), in the keys' order (BatchGet answers in any order), up to the first key it could
   * not read. Asked for in chunks of 25, so that one answer (at most 25 items of 400 KB) stays
   * under BatchGetItem's 16 MB and comes back whole unless throttled.
   */
  async #batchGet(keys: Record<string, unknown>[]): Promise<RunSummary[]> {
    // A page's chunks side by side: a page is at most a few of them.
    const read = await this.#batchGetItems(
      keys,
      { chunk: BATCH_GET_CHUNK, sideBySide: 8 },
      { ConsistentRead: true },
    );
    const found = new Map(read.items.map((item) => [String(item.pk), item]));
    const missing = keys.findIndex((key) => !found.has(String(key.pk)));
    const items = (missing < 0 ? keys : keys.slice(0, missing)).flatMap((key): Item[] => {
      const item = found.get(String(key.pk));
      return item === undefined ? [] : [item];
    });
    return items.map(summaryFromItem);
  }
}

/** The sort-key clause of a listing query: below the position, at or above `after`. */
function sortKeyRange(below: string | undefined, after: string | undefined): string {
  if (below === undefined) return after === undefined ? "" : " AND createdKey >= :after";
  return after === undefined ? " AND createdKey < :below" : " AND createdKey BETWEEN :after AND :below";
}

/** The lower of two exclusive upper bounds of the sort key (a cursor's position, createdBefore). */
function lowerKey(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  return b === undefined || a < b ? a : b;
}

/** The counts of two reads of the same group, by definition, added up. */
function sumCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const sum = { ...a };
  for (const [definition, count] of Object.entries(b)) sum[definition] = (sum[definition] ?? 0) + count;
  return sum;
}

/** Keys per BatchGetItem request of a list: 25 items of at most 400 KB stay under its 16 MB answer. */
const BATCH_GET_CHUNK = 25;

/** The waiting index key of a tenant's line: beside its definitions' lines, as TENANT_SCOPE is beside their counters. */
function tenantLineKeyOf(tenant: string): string {
  return `${tenant}#${TENANT_SCOPE}`;
}

/**
 * The key of a run's definition line and slots in the byWaitingLine and bySlot indexes: its
 * definition's counter shard (`<tenant>#<definition>`, `#<shard>` after it above shard 0), so a
 * definition with several shards spreads its index writes as it spreads its counters.
 */
function admissionKeyOf(tenant: string, definition: string, shard: number | undefined): string {
  return `${tenant}#${shardScope(definition, shard)}`;
}

/** The stored admission key; items of shard 0 have none and use tenantDefinition, as before shards. */
const STORED_ADMISSION_KEY = "if_not_exists(admissionKey, tenantDefinition)";

/** Where a waiting run sits in the waiting index: its tenant's line, or its definition's (shard's). */
function waitingForSet(inTenantLine: boolean, admissionKey: string): string {
  return inTenantLine ? "waitingFor = :tenantLineKey" : `waitingFor = ${admissionKey}`;
}

function keyOf(ref: RunRef): { pk: string; sk: string } {
  return { pk: `${ref.tenant}#${ref.id}`, sk: RUN_SK };
}

function refOfPk(pk: string): RunRef {
  const separator = pk.indexOf("#");
  return { tenant: pk.slice(0, separator), id: pk.slice(separator + 1) };
}

function idempotencyKeyOf(tenant: string, key: string): { pk: string; sk: string } {
  // Hashed: keys are the caller's free text, and '#' in them must not reach the key structure.
  return { pk: `${tenant}#idem#${createHash("sha256").update(key).digest("hex")}`, sk: IDEMPOTENCY_SK };
}

/**
 * A debounce window's item: pk "<tenant>#debounce#<sha256 of definition and key>", sk "debounce".
 * Beside the runs, in no index; one partition per (tenant, definition, key), read and written
 * only by the starts of that key. The tenant comes from the caller's key, never from the request.
 */
function debounceKeyOf(tenant: string, definition: string, key: string): { pk: string; sk: string } {
  const hash = createHash("sha256").update(`${definition}\n${key}`).digest("hex");
  return { pk: `${tenant}#debounce#${hash}`, sk: DEBOUNCE_SK };
}

function toDebounce(item: Item): DebounceRecord {
  return {
    tenant: String(item.tenant),
    definition: String(item.definition),
    key: String(item.key),
    runId: String(item.runId),
    mode: item.mode === "leading" ? "leading" : "trailing",
    delayMs: Number(item.delayMs),
    closesAt: String(item.closesAt),
    expiresAt: Number(item.expiresAt),
  };
}

function toIdempotency(item: Item): IdempotencyRecord {
  return {
    tenant: String(item.tenant),
    key: String(item.key),
    runId: String(item.runId),
    requestHash: String(item.requestHash),
    expiresAt: Number(item.expiresAt),
  };
}

/** An attempt record's sort key, beside its run's item: "attempt#007". */
const ATTEMPT_SK_PREFIX = "attempt#";
/** See #recordExpiry. */
const ATTEMPT_RECORD_SLACK_DAYS = 30;

function attemptSkOf(attempt: number): string {
  return `${ATTEMPT_SK_PREFIX}${String(attempt).padStart(3, "0")}`;
}

function originKeyOf(origin: RunRefLike): string {
  return `${origin.tenant}#${origin.taskId}`;
}

type RunRefLike = { tenant: string; taskId: string };

/**
 * The conditional UpdateItem for a run write: the patch, the index attributes that follow from
 * it, and the guard (undefined when the patch changes nothing); and the items of bulky fields it
 * moves beside the run (written whole, in the same transaction as the guarded update).
 */
function runUpdate(
  table: string,
  ref: ShardedRef,
  guard: RunGuard,
  patch: RunPatch,
  expiresAt?: number,
  recordExpiresAt?: number,
): { update: ReturnType<typeof guardedUpdate>; beside: Item[] } {
  const names: Record<string, string> = { "#status": "status" };
  const values: Record<string, unknown> = { ":guardStatus": guard.status, ":guardAttempts": guard.attempts };
  const sets: string[] = [];
  const removes: string[] = [];
  const beside: Item[] = [];
  // A move to another counter shard rewrites the admission key; otherwise the stored one stands.
  let admissionKey = STORED_ADMISSION_KEY;
  if (typeof patch.shard === "number") {
    if (ref.definition === undefined) throw new Error("a move to another shard needs the run's definition");
    values[":admissionKey"] = admissionKeyOf(ref.tenant, ref.definition, patch.shard);
    sets.push("admissionKey = :admissionKey");
    admissionKey = ":admissionKey";
  }
  if (patch.failedAttempt !== undefined) {
    // Its own item, in the same transaction: written with the outcome it records or not at all.
    const recordExpiry = expiresAt ?? recordExpiresAt;
    beside.push({
      pk: keyOf(ref).pk,
      sk: attemptSkOf(patch.failedAttempt.attempt),
      record: toJsonAttribute(patch.failedAttempt),
      ...(recordExpiry === undefined ? {} : { expiresAt: recordExpiry }),
    });
  }
  for (const [field, value] of Object.entries(patch)) {
    if (field === "once" || field === "failedAttempt" || value === undefined) continue;
    names[`#${field}`] = field;
    if (field === "output" || field === "logs" || field === "params") {
      const marker = BESIDE_MARKERS[field];
      if (keptBeside(value)) {
        removes.push(`#${field}`);
        sets.push(`${marker} = :beside`);
        values[":beside"] = true;
        beside.push({
          ...besideItemOf(ref, field, value),
          ...(expiresAt === undefined ? {} : { expiresAt }),
        });
        continue;
      }
      // Back in the hot item: an item left beside is ignored without its mark.
      removes.push(marker);
    }
    if (value === null) {
      removes.push(`#${field}`);
    } else {
      sets.push(`#${field} = :${field}`);
      values[`:${field}`] = field === "output" || field === "params" ? toJsonAttribute(value) : value;
    }
  }
  if (patch.status !== undefined && patch.status !== null) {
    // Only an end moves a run out of the "active" partition of byStatus (RUN_TRANSITIONS never
    // leaves a terminal status), so the moves between active statuses write no index entry.
    if (isTerminal(patch.status)) {
      const statusKey = statusKeyOf(ref.tenant, patch.status, ref.id);
      if (statusKey === undefined) removes.push("tenantStatus");
      else {
        sets.push("tenantStatus = :tenantStatus");
        values[":tenantStatus"] = statusKey;
      }
    }
    if (patch.status === "waiting") sets.push(waitingForSet(patch.tenantLine === true, admissionKey));
    else removes.push("waitingFor");
    if (patch.status !== "scheduled") removes.push("dueShard");
    if (isTerminal(patch.status)) removes.push("slotFor", "tenantSlotFor");
  } else if (patch.tenantLine !== undefined || typeof patch.shard === "number") {
    // A waiting run changing lines or shards (it stays waiting): its place in the waiting index moves.
    const inTenantLine =
      patch.tenantLine === undefined ? guard.inTenantLine === true : patch.tenantLine === true;
    sets.push(waitingForSet(inTenantLine, admissionKey));
  }
  if (sets.some((set) => set.includes(":tenantLineKey")))
    values[":tenantLineKey"] = tenantLineKeyOf(ref.tenant);
  // The slot index holds exactly the runs that hold a slot; its key copies the admission key.
  if (patch.slot === true) sets.push(`slotFor = ${admissionKey}`);
  if (patch.slot === null) removes.push("slotFor");
  // Likewise the tenant slot index, keyed by the tenant alone.
  if (patch.tenantSlot === true) {
    sets.push("tenantSlotFor = :tenantSlotKey");
    values[":tenantSlotKey"] = ref.tenant;
  }
  if (patch.tenantSlot === null) removes.push("tenantSlotFor");
  if (typeof patch.sweepAt === "string") {
    sets.push("sweepShard = :sweepShard");
    values[":sweepShard"] = String(sweepShardOf(ref.id));
  }
  if (patch.sweepAt === null) removes.push("sweepShard");
  if (expiresAt !== undefined) {
    sets.push("expiresAt = :expiresAt");
    values[":expiresAt"] = expiresAt;
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
  if (guard.notCancelRequested === true) condition += " AND attribute_not_exists(cancelRequestedAt)";
  if (guard.updatedAt !== undefined) {
    condition += " AND updatedAt = :guardUpdatedAt";
    values[":guardUpdatedAt"] = guard.updatedAt;
  }
  if (guard.inTenantLine !== undefined) {
    condition += guard.inTenantLine
      ? " AND attribute_exists(tenantLine)"
      : " AND attribute_not_exists(tenantLine)";
  }
  if (guard.shard !== undefined) {
    names["#guardShard"] = "shard";
    values[":guardShard"] = guard.shard;
    condition +=
      guard.shard === 0
        ? " AND (attribute_not_exists(#guardShard) OR #guardShard = :guardShard)"
        : " AND #guardShard = :guardShard";
  }
  return { update: guardedUpdate(table, ref, sets, removes, condition, names, values), beside };
}

function guardedUpdate(
  table: string,
  ref: RunRef,
  sets: string[],
  removes: string[],
  condition: string,
  names: Record<string, string>,
  values: Record<string, unknown>,
) {
  if (sets.length === 0 && removes.length === 0) return undefined;
  return {
    TableName: table,
    Key: keyOf(ref),
    UpdateExpression: [
      sets.length > 0 ? `SET ${sets.join(", ")}` : "",
      removes.length > 0 ? `REMOVE ${[...new Set(removes)].join(", ")}` : "",
    ].join(" "),
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

/** A run as its hot item and the items of the bulky fields kept beside it. */
function toItem(run: Run): { item: Item; beside: Item[] } {
  const tenantDefinition = `${run.tenant}#${run.definition}`;
  const admissionKey = admissionKeyOf(run.tenant, run.definition, run.shard);
  const statusKey = statusKeyOf(run.tenant, run.status, run.id);
  const item: Item = {
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
    tenantShard: tenantShardKeyOf(run.tenant, run.id),
    ...(statusKey === undefined ? {} : { tenantStatus: statusKey }),
    tenantDefinition,
    ...(admissionKey === tenantDefinition ? {} : { admissionKey }),
    createdKey: createdKeyOf(run),
    ...(run.status === "waiting"
      ? { waitingFor: run.tenantLine === true ? tenantLineKeyOf(run.tenant) : admissionKey }
      : {}),
    ...(mayWait(run.status) ? { lineKey: lineKeyOf(run) } : {}),
    ...(run.status === "scheduled" ? { dueShard: String(dueShardOf(run.id)) } : {}),
    ...(run.slot === true && !isTerminal(run.status) ? { slotFor: admissionKey } : {}),
    ...(run.tenantSlot === true && !isTerminal(run.status) ? { tenantSlotFor: run.tenant } : {}),
    ...(run.sweepAt === undefined ? {} : { sweepShard: String(sweepShardOf(run.id)) }),
    // A replay is listed under its original in byOrigin too (the original is never rewritten).
    // A workflow's step is not: its workflow finds it by its derived id (app/tasks.ts).
    ...(run.origin !== undefined && run.parent === undefined
      ? { originKey: originKeyOf(run.origin) }
      : run.replayOf !== undefined
        ? { originKey: originKeyOf({ tenant: run.tenant, taskId: run.replayOf }) }
        : {}),
  };
  const beside: Item[] = [];
  for (const field of BESIDE_FIELDS) {
    const value = run[field];
    if (!keptBeside(value)) continue;
    delete item[field];
    item[BESIDE_MARKERS[field]] = true;
    beside.push(besideItemOf(run, field, value));
  }
  return { item, beside };
}

/** The bulky fields a hot item keeps beside it. */
function besideFieldsOf(item: Item): BesideField[] {
  return BESIDE_FIELDS.filter((field) => item[BESIDE_MARKERS[field]] === true);
}

function besideKeyOf(ref: RunRef, field: BesideField): { pk: string; sk: string } {
  return { pk: keyOf(ref).pk, sk: field };
}

/** A bulky field's own item: its value as one JSON string (as params and output are in the hot item). */
function besideItemOf(ref: RunRef, field: BesideField, value: unknown): Item {
  return { ...besideKeyOf(ref, field), [field]: toJsonAttribute(value) };
}

/** A hot item as a list shows its run: its bulky fields left out, wherever they are kept. */
function summaryFromItem(item: Item): RunSummary {
  const { params: _params, output: _output, logs: _logs, ...hot } = item;
  const parsed = RunSummary.safeParse(withOnceResults(withoutDerived(hot)));
  if (!parsed.success) {
    throw new Error(`run item ${String(item.pk)} does not match the Run schema: ${parsed.error.message}`);
  }
  return parsed.data;
}

function withoutDerived(item: Item): Item {
  const fields = { ...item };
  for (const attribute of DERIVED_ATTRIBUTES) delete fields[attribute];
  return fields;
}

/** `once` results are stored as JSON text, like params and output. */
function withOnceResults(fields: Item): Item {
  const once = (fields.once ?? {}) as Record<string, { result?: unknown }>;
  return {
    ...fields,
    once: Object.fromEntries(
      Object.entries(once).map(([key, record]) => [
        key,
        { ...record, result: fromJsonAttribute(record.result) },
      ]),
    ),
  };
}

/** Items are read back through the schema: a malformed item fails loudly here, not deep in core. */
function fromItem(item: Item, beside: ReadonlyMap<string, Item> = new Map()): Run {
  const fields = withoutDerived(item);
  fields.params = fromJsonAttribute(fields.params);
  if (fields.output !== undefined) fields.output = fromJsonAttribute(fields.output);
  for (const field of besideFieldsOf(item)) {
    const aside = beside.get(field);
    if (aside === undefined)
      throw new Error(`run item ${String(item.pk)} keeps its ${field} beside it, but that item is missing`);
    fields[field] = fromJsonAttribute(aside[field]);
  }
  const parsed = Run.safeParse(withOnceResults(fields));
  if (!parsed.success) {
    throw new Error(`run item ${String(item.pk)} does not match the Run schema: ${parsed.error.message}`);
  }
  return parsed.data;
}
