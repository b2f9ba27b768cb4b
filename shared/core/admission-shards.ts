/**
 * Counter shards of a limited definition (docs/admission.md "Sharded counters"). A counters item
 * is one DynamoDB partition key (about 1,000 write units/s), and every start and end of a limited
 * run writes it, so a definition with many slots splits them over several items: shard `i` holds
 * its share of `maxConcurrency` and of `maxQueueLength`, with its own line. A run belongs to one
 * shard (chosen from its id) for its whole admission: it takes a slot, waits, and gives its slot
 * back there. The shares add up to the limits, so no more than `maxConcurrency` runs ever hold a
 * slot and no more than `maxQueueLength` wait, whatever the shards do.
 *
 * Shard 0 keeps the definition's own key, so a definition with one shard (fewer than
 * 2 × SLOTS_PER_SHARD slots: nearly all) writes exactly what it wrote before shards existed.
 */
import { createHash } from "node:crypto";
import type { DefinitionLimits } from "./definition.ts";

/**
 * Slots per shard: a shard's item takes about 4 write units per run (2 for its admission, 2 for
 * its end or hand-off, transactional writes costing 2), so about 250 runs/s; 50 slots per shard
 * keeps a shard busy at 5 runs/s per slot (200 ms tasks) before its item is the limit.
 */
export const SLOTS_PER_SHARD = 50;
/** At most this many shards (maxConcurrency 800 and above): about 4,000 starts/s per definition. */
export const MAX_SHARDS = 16;

/** How many counter shards a definition with `maxConcurrency` has: one per SLOTS_PER_SHARD slots. */
export function shardCount(maxConcurrency: number | undefined, slotsPerShard = SLOTS_PER_SHARD): number {
  if (maxConcurrency === undefined) return 1;
  return Math.max(1, Math.min(MAX_SHARDS, Math.floor(maxConcurrency / slotsPerShard)));
}

/** The shard a run belongs to, from its id (stable, evenly spread). */
export function shardOf(runId: string, shards: number): number {
  if (shards <= 1) return 0;
  return createHash("sha256").update(runId).digest().readUInt32BE(0) % shards;
}

/**
 * The counters key (and line) of a definition's shard: the definition's name for shard 0, else
 * `<name>#<shard>` (no name holds '#', shared/core/names.ts).
 */
export function shardScope(definition: string, shard: number | undefined): string {
  return shard === undefined || shard === 0 ? definition : `${definition}#${shard}`;
}

/** A counters key back to its definition and shard. */
export function parseScope(scope: string): { definition: string; shard: number } {
  const separator = scope.lastIndexOf("#");
  if (separator < 0) return { definition: scope, shard: 0 };
  return { definition: scope.slice(0, separator), shard: Number(scope.slice(separator + 1)) };
}

/**
 * Shard `shard`'s share of the limits when there are `shards`: an even split, the first shards
 * taking one more of any remainder. A shard beyond the count (left from a higher limit) gets no
 * slot and no place in line: its runs finish, and its waiting runs move to a live shard.
 */
export function shardLimits(limits: DefinitionLimits, shard: number, shards: number): DefinitionLimits {
  if (shards <= 1 && shard === 0) return limits;
  const share = (total: number) =>
    shard >= shards ? 0 : Math.floor(total / shards) + (shard < total % shards ? 1 : 0);
  return {
    ...limits,
    ...(limits.maxConcurrency === undefined ? {} : { maxConcurrency: share(limits.maxConcurrency) }),
    ...(limits.maxQueueLength === undefined ? {} : { maxQueueLength: share(limits.maxQueueLength) }),
  };
}
