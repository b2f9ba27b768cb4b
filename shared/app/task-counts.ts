/**
 * The counts at the top of the task list: a tenant's runs created in a recent window, by status
 * and by definition, read from the listing indexes (no scan, and no counter that every run would
 * have to write). See RunStore.countSince for the cost.
 */
import { ValidationError } from "../core/errors.ts";
import { COUNTED_STATUSES } from "../core/ports.ts";
import { RUN_STATUSES, type RunStatus } from "../core/run.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";

/** The window counted when none is asked for. */
export const COUNTS_DEFAULT_HOURS = 24;
/** The widest window one request may count. */
export const COUNTS_MAX_DAYS = 31;
/**
 * Index entries read at most per shard and query (16 shards × 5 queries): about 150 bytes each, so
 * the index reads of a full count are at most 80 × 2,000 × 150 B ≈ 24 MB (≈ 3,000 read units)
 * however busy the tenant. The unfinished runs' entries (the `active` group, which does not hold
 * the status) each cost one more read of the run's item for its status: about 0.5 read units per
 * unfinished run (an eventually consistent get of a hot item under 4 KB, batched 100 a call), so at
 * most 16 × 2,000 × 0.5 = 16,000 units, but as many runs as are unfinished now (a few tens on a
 * normal day, a few read units) however many ended.
 */
export const COUNTS_MAX_PER_SHARD = 2_000;

export interface TaskCounts {
  since: string;
  total: number;
  /** Every status, each on its own (succeeded being the runs counted in no other). */
  byStatus: Record<RunStatus, number>;
  byDefinition: Array<{ definition: string; total: number; byStatus: Record<RunStatus, number> }>;
  /** False when a busy window was read only in part: the counts are then lower bounds. */
  complete: boolean;
}

function zeroes(): Record<RunStatus, number> {
  return Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as Record<RunStatus, number>;
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
  const definitions = new Map<string, Record<RunStatus, number>>();
  const of = (definition: string) => {
    let counts = definitions.get(definition);
    if (counts === undefined) {
      counts = zeroes();
      definitions.set(definition, counts);
    }
    return counts;
  };
  for (const status of COUNTED_STATUSES) {
    for (const [definition, count] of Object.entries(read.byStatus[status])) of(definition)[status] += count;
  }
  // Succeeded runs are in no byStatus group: they are what the total holds beyond the others (an
  // index entry lagging a status change can make that briefly negative; it is shown as 0).
  for (const [definition, total] of Object.entries(read.total)) {
    const counts = of(definition);
    const others = COUNTED_STATUSES.reduce((sum, status) => sum + counts[status], 0);
    counts.succeeded = Math.max(0, total - others);
  }
  const byStatus = zeroes();
  const byDefinition = [...definitions.entries()]
    .map(([definition, counts]) => {
      for (const status of RUN_STATUSES) byStatus[status] += counts[status];
      return {
        definition,
        total: RUN_STATUSES.reduce((sum, status) => sum + counts[status], 0),
        byStatus: counts,
      };
    })
    .sort((a, b) => b.total - a.total || a.definition.localeCompare(b.definition));
  return {
    since: since.toISOString(),
    total: RUN_STATUSES.reduce((sum, status) => sum + byStatus[status], 0),
    byStatus,
    byDefinition,
    complete: read.complete,
  };
}
