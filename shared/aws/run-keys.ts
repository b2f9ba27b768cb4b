/**
 * The run table's key layout that every RunStore adapter must reproduce (the DynamoDB store
 * writes it; the memory store answers the same queries from it): index partitions, sort keys,
 * shards and cursors. No SDK here, so the memory adapter can share it.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { jsonBytes } from "../core/limits.ts";
import { RunId } from "../core/names.ts";
import { lineOrderOf } from "../core/priority.ts";
import { isTerminal, type Run, type RunStatus } from "../core/run.ts";

/**
 * The sweep index is spread over this many partitions, shared by all tenants, so that its writes
 * never concentrate on one partition. A plain task adds and removes one sweep entry (2 write
 * units); a callback task also moves it to its callback deadline (about 4 units in all), the most
 * of any kind. At about 1,000 write units per second per partition, 128 shards carry about 32,000
 * callback tasks/s (64,000 plain) across the deployment, above issue #14's 20,000 for every kind;
 * 64 carried about 15,000 callback tasks/s. The sweeper queries them all (128 small queries,
 * in parallel), once a minute. A run's shard is `hash byte % SWEEP_SHARDS`: entries written
 * under 64 shards stay in shards 0..63, which are still read, so no migration is needed.
 */
export const SWEEP_SHARDS = 128;

/**
 * The due index (delayed starts only) over this many partitions: 2 writes per delayed start
 * carry 4,000 delayed starts/s. Fewer than the sweep's, as the local timer queries them all
 * four times a second.
 */
export const DUE_SHARDS = 8;

/**
 * The listing indexes (byTenantShard, byStatus) split each tenant's partitions over this many shards,
 * by run id. The hottest of them is a tenant's "active" partition of byStatus, written twice per
 * task (entry at start, removal at end): 16 shards at about 1,000 write units per second each
 * carry 8,000 tasks/s for one tenant (the target is 5,000). Listing queries every shard and merges
 * them newest-first (mergeShardPages), so 16 is also what one list page costs in queries.
 */
export const LIST_SHARDS = 16;

/** A list page reads at most this many rounds of index pages (each over every shard) to fill itself. */
export const LIST_ROUNDS = 10;

function hashByte(runId: string): number {
  return createHash("sha256").update(runId).digest()[0] ?? 0;
}

/** The shard of a run in the sweep index. */
export function sweepShardOf(runId: string): number {
  return hashByte(runId) % SWEEP_SHARDS;
}

/** The shard of a delayed start in the due index. */
export function dueShardOf(runId: string): number {
  return hashByte(runId) % DUE_SHARDS;
}

/** The shard of a run in the listing indexes. */
export function listShardOf(runId: string): number {
  return hashByte(runId) % LIST_SHARDS;
}

/** The byTenantShard partition of a run: its tenant and its listing shard. */
export function tenantShardKeyOf(tenant: string, runId: string): string {
  return `${tenant}#${listShardOf(runId)}`;
}

/** Every byTenantShard partition of a tenant, one per shard. */
export function tenantShardKeys(tenant: string): string[] {
  return Array.from({ length: LIST_SHARDS }, (_, shard) => `${tenant}#${shard}`);
}

/**
 * Which byStatus group a run is in: unfinished runs share "active", so moves between active
 * statuses (the claim above all) rewrite no index entry; succeeded runs, the bulk of all runs,
 * are left out (undefined) and listed through byTenantShard instead, so the end of a plain task
 * deletes one index entry rather than moving it. Listing filters by the run's real status after
 * reading it.
 */
export function statusGroupOf(status: RunStatus): string | undefined {
  if (status === "succeeded") return undefined;
  return isTerminal(status) ? status : "active";
}

/** The byStatus partition of a run: "<tenant>#<group>#<shard>", or undefined when not in it. */
export function statusKeyOf(tenant: string, status: RunStatus, runId: string): string | undefined {
  const group = statusGroupOf(status);
  return group === undefined ? undefined : `${tenant}#${group}#${listShardOf(runId)}`;
}

/** Every byStatus partition of a tenant's status group, one per shard (none for succeeded). */
export function statusShardKeys(tenant: string, status: RunStatus): string[] {
  const group = statusGroupOf(status);
  if (group === undefined) return [];
  return Array.from({ length: LIST_SHARDS }, (_, shard) => `${tenant}#${group}#${shard}`);
}

/** One shard's answer to a newest-first page query: the entries it read that passed its filter. */
export interface ShardPage<T> {
  /** Entries that passed the filter, newest first, each with its sort key. */
  entries: Array<{ createdKey: string; entry: T }>;
  /** The sort key of the last entry the shard evaluated, when it may hold more (DynamoDB's LastEvaluatedKey). */
  lastKey?: string;
}

/**
 * Merges one round of per-shard pages (each asked for `need` entries below the same position)
 * into one newest-first page. A shard that stopped early at `lastKey` has not been read below it,
 * so only entries at or above the highest such key (the frontier) are certain to be in order;
 * the rest are read again next round. Returns the entries to take (at most `need`) and the
 * position to continue below: the last entry taken when the page filled, else the frontier;
 * undefined when every shard is read to its end.
 */
export function mergeShardPages<T>(
  pages: readonly ShardPage<T>[],
  need: number,
): { take: Array<{ createdKey: string; entry: T }>; next?: string } {
  let frontier: string | undefined;
  for (const page of pages) {
    if (page.lastKey !== undefined && (frontier === undefined || page.lastKey > frontier))
      frontier = page.lastKey;
  }
  const certain = pages
    .flatMap((page) => page.entries)
    .filter((entry) => frontier === undefined || entry.createdKey >= frontier)
    .sort((a, b) => (a.createdKey < b.createdKey ? 1 : a.createdKey > b.createdKey ? -1 : 0));
  if (certain.length > need) {
    const take = certain.slice(0, need);
    return { take, next: take[take.length - 1]?.createdKey };
  }
  return { take: certain, ...(frontier === undefined ? {} : { next: frontier }) };
}

/**
 * The run's bulky fields. Each is kept in the run's own (hot) item while small, and otherwise in an
 * item of its own beside it (same pk, sk = the field's name), written once (params) or replaced
 * whole when it changes (output, logs). The hot item, which every claim, heartbeat, progress and
 * feedback write rewrites, then stays well under 1 KB, and DynamoDB bills such a write 1 unit
 * whatever the size of the run's params, output and logs (it bills an update by the larger of the
 * old and new item).
 */
export const BESIDE_FIELDS = ["params", "output", "logs"] as const;
export type BesideField = (typeof BESIDE_FIELDS)[number];

/** A bulky field above this many bytes of JSON goes beside the run's hot item. */
export const INLINE_FIELD_BYTES = 200;

/** Whether a field's value is kept beside the hot item rather than in it. */
export function keptBeside(value: unknown): boolean {
  return value !== undefined && value !== null && jsonBytes(value) > INLINE_FIELD_BYTES;
}

/** The sort key of the list indexes: creation time, then id, so equal times still order. */
export function createdKeyOf(run: Pick<Run, "createdAt" | "id">): string {
  return `${run.createdAt}#${run.id}`;
}

/**
 * The sort key of the waiting index (byWaitingLine): the run's priority first (9 − priority, so
 * the highest sorts first), then its created key. Written when a run is created `waiting` or
 * `scheduled` (the only runs that may ever wait) and never changed, so a run that moves between
 * lines keeps its place.
 */
export function lineKeyOf(run: Pick<Run, "createdAt" | "id" | "priority">): string {
  return lineOrderOf(run.priority, createdKeyOf(run));
}

/** Whether a run may ever wait in a line, and so carries a lineKey: created waiting, or delayed. */
export function mayWait(status: RunStatus): boolean {
  return status === "waiting" || status === "scheduled";
}

/** A list cursor: the run's own position only; the tenant parts come from the caller. */
export const RunCursor = z.object({ id: RunId, created: z.string().max(100) });
/** A cursor through what a run started: the child's position (it may be another tenant's). */
export const StartedCursor = z.object({ tenant: RunId, id: RunId, created: z.string().max(100) });
