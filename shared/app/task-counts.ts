/**
 * The counts at the top of the task list: a tenant's runs created in a recent window, by status
 * and by definition, read from the listing indexes (no scan, and no counter that every run would
 * have to write). See RunStore.countSince for the cost.
 */
import { ValidationError } from "../core/errors.ts";
import { COUNTED_GROUPS, type CountedGroup } from "../core/ports.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";

/** The window counted when none is asked for. */
export const COUNTS_DEFAULT_HOURS = 24;
/** The widest window one request may count. */
export const COUNTS_MAX_DAYS = 31;
/**
 * Index entries read at most per shard and group (16 shards × 5 reads): about 150 bytes each, so a
 * full count reads at most 80 × 2,000 × 150 B ≈ 24 MB (≈ 3,000 read units) however busy the
 * tenant; a normal day reads a few kilobytes.
 */
export const COUNTS_MAX_PER_SHARD = 2_000;

export type CountedStatus = CountedGroup | "succeeded";
export const COUNTED_STATUSES: readonly CountedStatus[] = ["active", "succeeded", ...COUNTED_GROUPS.slice(1)];

export interface TaskCounts {
  since: string;
  total: number;
  byStatus: Record<CountedStatus, number>;
  byDefinition: Array<{ definition: string; total: number; byStatus: Record<CountedStatus, number> }>;
  /** False when a busy window was read only in part: the counts are then lower bounds. */
  complete: boolean;
}

function zeroes(): Record<CountedStatus, number> {
  return { active: 0, succeeded: 0, failed: 0, cancelled: 0, timed_out: 0 };
}

export async function countTasks(
  svc: Services,
  caller: TenantPrincipal,
  query: { since?: string },
): Promise<TaskCounts> {
  const now = svc.clock.now();
  const since =
    query.since === undefined
      ? new Date(now.getTime() - COUNTS_DEFAULT_HOURS * 3_600_000)
      : new Date(query.since);
  if (Number.isNaN(since.getTime())) throw new ValidationError('"since" must be an ISO 8601 time');
  if (now.getTime() - since.getTime() > COUNTS_MAX_DAYS * 86_400_000) {
    throw new ValidationError(`"since" may reach at most ${COUNTS_MAX_DAYS} days back`);
  }
  const read = await svc.runs.countSince(caller.tenant, since.toISOString(), COUNTS_MAX_PER_SHARD);
  const definitions = new Map<string, Record<CountedStatus, number>>();
  const of = (definition: string) => {
    let counts = definitions.get(definition);
    if (counts === undefined) {
      counts = zeroes();
      definitions.set(definition, counts);
    }
    return counts;
  };
  for (const group of COUNTED_GROUPS) {
    for (const [definition, count] of Object.entries(read.groups[group])) of(definition)[group] += count;
  }
  // Succeeded runs are in no byStatus group: they are what the total holds beyond the groups (an
  // index entry lagging a status change can make that briefly negative; it is shown as 0).
  for (const [definition, total] of Object.entries(read.total)) {
    const counts = of(definition);
    const others = COUNTED_GROUPS.reduce((sum, group) => sum + counts[group], 0);
    counts.succeeded = Math.max(0, total - others);
  }
  const byStatus = zeroes();
  const byDefinition = [...definitions.entries()]
    .map(([definition, counts]) => {
      for (const status of COUNTED_STATUSES) byStatus[status] += counts[status];
      return {
        definition,
        total: COUNTED_STATUSES.reduce((sum, status) => sum + counts[status], 0),
        byStatus: counts,
      };
    })
    .sort((a, b) => b.total - a.total || a.definition.localeCompare(b.definition));
  return {
    since: since.toISOString(),
    total: COUNTED_STATUSES.reduce((sum, status) => sum + byStatus[status], 0),
    byStatus,
    byDefinition,
    complete: read.complete,
  };
}
