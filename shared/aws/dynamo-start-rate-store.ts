import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import type { StartRateDecision, StartRateStore } from "../core/ports.ts";
import {
  admitUpToUs,
  type GcraRule,
  gcraRule,
  isStaleTat,
  microsOf,
  retryAfterSeconds,
  type StartRate,
} from "../core/start-rate.ts";
import { isConditionFailure } from "./clients.ts";

/**
 * The sort key of a tenant's start-rate item in the runs table, under partition key `pk` =
 * the tenant id alone. Every other item there has a `#` in its pk ("<tenant>#<runId>", idempotency
 * and tree items), which a tenant id never holds, so the two cannot meet. The item carries no
 * index attribute, so no write to it touches an index, and every function that starts runs
 * already writes this table.
 */
const START_RATE_SK = "startRate";

/** An idle tenant's item goes a day after its TAT has passed (TTL); an absent item is a full bucket. */
const EXPIRY_AFTER_TAT_SECONDS = 24 * 60 * 60;

/** Each write that loses a race returns the TAT that beat it, so a take settles within a few writes. */
const MAX_WRITES = 4;

/** How many tenants' last-seen TATs a process keeps (a hint only; forgetting costs a write). */
const SEEN_CAPACITY = 10_000;

/**
 * The start-rate buckets on DynamoDB: one item per rate-limited tenant holding its TAT
 * (`tatUs`), changed by one conditional write per admitted start in the common case:
 *
 * - backlogged (TAT in [now, admitUpTo]): `SET tatUs = tatUs + interval`;
 * - idle (TAT absent or before now): `SET tatUs = now + interval`.
 *
 * Which one to try comes from the TAT this process saw last. A wrong guess fails its condition
 * and returns the stored TAT (ReturnValuesOnConditionCheckFailure, no extra read), which picks
 * the other. A TAT only ever grows, so one seen earlier is a lower bound of the stored one: when
 * even that is past admitUpTo, the start is refused without any request at all. A flood of
 * refused starts costs the table nothing on a warm process.
 *
 * DynamoDB takes about 1,000 writes per second on one item, so a tenant admits at most about
 * 1,000 starts per second (START_RATE_LIMITS.maxStartsPerSecond); tenants without a rate have no
 * item and never reach this store.
 */
export class DynamoStartRateStore implements StartRateStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #seen = new Map<string, number>();

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async take(tenant: string, rate: StartRate, now: Date): Promise<StartRateDecision> {
    const rule = gcraRule(rate);
    const nowUs = microsOf(now);
    let known = this.#seen.get(tenant);
    for (let write = 0; write < MAX_WRITES; write += 1) {
      const stale = known !== undefined && isStaleTat(known, rule, nowUs);
      if (known !== undefined && !stale && known > admitUpToUs(rule, nowUs)) {
        return { admitted: false, retryAfterSeconds: retryAfterSeconds(known, rule, nowUs) };
      }
      const idle = known === undefined || known < nowUs || stale;
      const result = idle
        ? await this.#restart(tenant, rule, nowUs)
        : await this.#advance(tenant, rule, nowUs);
      if (result.written) {
        this.#remember(tenant, result.tatUs);
        return { admitted: true };
      }
      if (result.tatUs !== undefined) this.#remember(tenant, result.tatUs);
      // Absent after a failed advance: the item expired (TTL); the next try restarts it.
      known = result.tatUs;
    }
    // Every write lost a race to another start of the same tenant: the bucket is that busy.
    return { admitted: false, retryAfterSeconds: 1 };
  }

  /**
   * The bucket has filled up while idle (or was never used), or holds a TAT of a rule that no
   * longer applies (isStaleTat): start counting again from now.
   */
  #restart(tenant: string, rule: GcraRule, nowUs: number): Promise<WriteResult> {
    return this.#write(tenant, rule, nowUs, {
      UpdateExpression: "SET tatUs = :tat, expiresAt = :expires",
      ConditionExpression: "attribute_not_exists(tatUs) OR tatUs < :now OR tatUs > :stale",
      ExpressionAttributeValues: {
        ":tat": nowUs + rule.intervalUs,
        ":now": nowUs,
        ":stale": nowUs + rule.windowUs,
      },
    });
  }

  /** Starts are queued up in the bucket: one interval more, if that still fits the burst. */
  #advance(tenant: string, rule: GcraRule, nowUs: number): Promise<WriteResult> {
    return this.#write(tenant, rule, nowUs, {
      UpdateExpression: "SET tatUs = tatUs + :interval, expiresAt = :expires",
      ConditionExpression: "tatUs BETWEEN :now AND :upTo",
      ExpressionAttributeValues: {
        ":interval": rule.intervalUs,
        ":now": nowUs,
        ":upTo": admitUpToUs(rule, nowUs),
      },
    });
  }

  async #write(
    tenant: string,
    rule: GcraRule,
    nowUs: number,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeValues: Record<string, number>;
    },
  ): Promise<WriteResult> {
    // Either write leaves the TAT at most now + window: the item outlives it by a day.
    const expires = Math.ceil((nowUs + rule.windowUs) / 1_000_000) + EXPIRY_AFTER_TAT_SECONDS;
    try {
      const result = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: tenant, sk: START_RATE_SK },
          ...update,
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ":expires": expires },
          ReturnValues: "UPDATED_NEW",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { written: true, tatUs: Number(result.Attributes?.tatUs) };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const old = (error as { Item?: Record<string, AttributeValue> }).Item;
      const tatUs = old === undefined ? undefined : unmarshall(old).tatUs;
      return { written: false, tatUs: typeof tatUs === "number" ? tatUs : undefined };
    }
  }

  #remember(tenant: string, tatUs: number): void {
    if (!this.#seen.has(tenant) && this.#seen.size >= SEEN_CAPACITY) this.#seen.clear();
    if (tatUs > (this.#seen.get(tenant) ?? Number.NEGATIVE_INFINITY)) this.#seen.set(tenant, tatUs);
  }
}

type WriteResult = { written: true; tatUs: number } | { written: false; tatUs: number | undefined };
