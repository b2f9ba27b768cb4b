/**
 * Hot partition keys and the ceilings they put on one deployment, derived from the write units
 * the call counter attributed to each partition key (shared/aws/write-attribution.ts) while a
 * workload of known size ran. Pure functions; docs/PERFORMANCE.md ("Ceilings") explains them.
 *
 * Keys are reported by shape, so rows are stable from run to run: the tenants, definitions and
 * named queues the bench made are replaced by <tenant>, <definition> and <queue>, run ids (ULIDs,
 * and other parts of 20 or more id characters with a digit, such as chain runs' hashed ids) by
 * <run>, and short all-digit parts (shard suffixes) by <shard>.
 */
import type { KeyUnits } from "../shared/aws/write-attribution.ts";

/** What DynamoDB serves per partition key, per second, on a table or a GSI. */
export const DYNAMO_WRU_PER_PARTITION = 1_000;
/** SQS FIFO with high throughput (per message group id): requests/s per message group. */
export const SQS_FIFO_REQUESTS_PER_GROUP = 300;

/**
 * Whose tasks share a key: every run its own, a definition's or named queue's, a tenant's, or
 * everyone's; "unknown" for units the counter could not place on a key ("?"), which bound nothing.
 */
export type KeyScope = "run" | "definition" | "queue" | "tenant" | "global" | "unknown";

export interface Names {
  tenants: readonly string[];
  definitions: readonly string[];
  queues: readonly string[];
}

const ULID = /[0-9A-HJKMNP-TV-Z]{26}/g;
/**
 * Run ids that are not ULIDs (chain and workflow-step runs, hashed ids): long, and with a digit or
 * both cases of letters (a base64url hash may hold no digit: "ch-WxDVUBpUnpDFSWHZtxSjqtEPCBLwWQet").
 */
const LONG_ID = /^(?=.*(?:\d|[a-z].*[A-Z]|[A-Z].*[a-z]))[A-Za-z0-9_~.:-]{20,}$/;
const SHARD = /^\d{1,4}$/;

/** A partition key's shape: the bench's own names and ids replaced by placeholders. */
export function shapeOf(key: string, names: Names): string {
  return key
    .split("#")
    .map((part) => {
      if (names.tenants.includes(part)) return "<tenant>";
      if (names.definitions.includes(part)) return "<definition>";
      if (names.queues.includes(part)) return "<queue>";
      if (SHARD.test(part)) return "<shard>";
      const ulids = part.replace(ULID, "<run>");
      return ulids === part && LONG_ID.test(part) ? "<run>" : ulids;
    })
    .join("#");
}

/** The widest group of tasks that writes one key of this shape. */
export function scopeOf(shape: string): KeyScope {
  if (shape === "?") return "unknown";
  if (shape.includes("<run>")) return "run";
  if (shape.includes("<definition>")) return "definition";
  if (shape.includes("<queue>")) return "queue";
  if (shape.includes("<tenant>")) return "tenant";
  return "global";
}

export interface HotKey {
  table: string;
  /** The GSI, or "" for the table itself. */
  index: string;
  /** The key's shape, e.g. "<tenant>#active". */
  key: string;
  scope: KeyScope;
  /**
   * Write units per task on one key of this shape: the busiest key, or for a sharded shape the
   * mean over the shards (those written, or up to the highest shard number seen: a shard is
   * picked by hash, so the busiest one in a short run only shows sampling noise).
   */
  wruPerTask: number;
  /** Keys of this shape that were written. */
  keys: number;
}

/** Write units per task on each key shape, hottest first. */
export function hotKeys(units: readonly KeyUnits[], tasks: number, names: Names): HotKey[] {
  const groups = new Map<
    string,
    { table: string; index: string; key: string; perKey: number[]; highestShard: number }
  >();
  const shaped = units.map((u) => ({ ...u, shape: shapeOf(u.key, names) }));
  const sharded = new Set(
    shaped
      .filter((u) => u.shape.endsWith("#<shard>"))
      .map((u) => JSON.stringify([u.table, u.index ?? "", u.shape])),
  );
  for (const u of shaped) {
    // A sharded key's shard 0 keeps the key without a suffix (counter shards, docs/admission.md:
    // "shard 0 keeps <tenant>#<definition>"), so it is one of the shards, not a key of its own.
    const asShard = JSON.stringify([u.table, u.index ?? "", `${u.shape}#<shard>`]);
    const shape = sharded.has(asShard) ? `${u.shape}#<shard>` : u.shape;
    const id = JSON.stringify([u.table, u.index ?? "", shape]);
    const group = groups.get(id) ?? {
      table: u.table,
      index: u.index ?? "",
      key: shape,
      perKey: [],
      highestShard: -1,
    };
    group.perKey.push(u.units);
    for (const part of u.key.split("#"))
      if (SHARD.test(part)) group.highestShard = Math.max(group.highestShard, Number(part));
    groups.set(id, group);
  }
  return [...groups.values()]
    .map((g) => {
      const total = g.perKey.reduce((sum, n) => sum + n, 0);
      // Shards are numbered from 0: a short run may leave one unwritten, which still counts.
      const shards = Math.max(g.perKey.length, g.highestShard + 1);
      const perKey = g.key.includes("<shard>") ? total / shards : Math.max(...g.perKey);
      return {
        table: g.table,
        index: g.index,
        key: g.key,
        scope: scopeOf(g.key),
        wruPerTask: perKey / tasks,
        keys: g.perKey.length,
      };
    })
    .sort((a, b) => b.wruPerTask - a.wruPerTask || a.key.localeCompare(b.key));
}

export interface Ceiling {
  /** Tasks per second before the bounding key reaches its partition's limit (null: no key bounds it). */
  perSecond: number | null;
  /** What bounds it: the hottest key of the workload among the scopes that count. */
  boundBy: string;
}

/**
 * The rate at which a workload's tasks saturate its hottest key among `scopes`: 1,000 WRU/s over
 * that key's units per task. Keys of narrower scopes do not bound it (e.g. a tenant spreads its
 * tasks over many definitions, so a definition's key does not bound the tenant).
 */
export function dynamoCeiling(keys: readonly HotKey[], scopes: readonly KeyScope[]): Ceiling {
  const hottest = keys.find((k) => scopes.includes(k.scope) && k.wruPerTask > 0);
  if (hottest === undefined) return { perSecond: null, boundBy: "no key shared by these tasks" };
  return {
    perSecond: DYNAMO_WRU_PER_PARTITION / hottest.wruPerTask,
    boundBy: `DynamoDB ${hottest.table}${hottest.index ? `/${hottest.index}` : ""} key ${hottest.key}: ${round(hottest.wruPerTask, 3)} WRU per task of ${DYNAMO_WRU_PER_PARTITION} WRU/s`,
  };
}

/** An SQS FIFO message group's bound: 300 requests/s over the group's requests per task. */
export function sqsGroupCeiling(requestsPerTask: number): Ceiling {
  if (requestsPerTask <= 0) return { perSecond: null, boundBy: "no FIFO requests" };
  return {
    perSecond: SQS_FIFO_REQUESTS_PER_GROUP / requestsPerTask,
    boundBy: `SQS FIFO message group: ${round(requestsPerTask)} requests per task of ${SQS_FIFO_REQUESTS_PER_GROUP} requests/s`,
  };
}

/** The lower of some ceilings (a null one bounds nothing). */
export function lowest(...ceilings: Ceiling[]): Ceiling {
  const bounded = ceilings.filter((c) => c.perSecond !== null) as Array<Ceiling & { perSecond: number }>;
  if (bounded.length === 0) return ceilings[0] ?? { perSecond: null, boundBy: "nothing measured" };
  return bounded.reduce((low, c) => (c.perSecond < low.perSecond ? c : low));
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
