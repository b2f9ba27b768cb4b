/**
 * Bulk actions: cancel or replay every run of a tenant that a filter matches, page by page, each
 * page one worker message and one conditional write of the bulk's record (shared/app/bulk.ts).
 * This module holds what a bulk is, its filter, its limits and its tallies; no I/O.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { Name } from "./names.ts";
import { RUN_STATUSES } from "./run.ts";

export const BULK_ACTIONS = ["cancel", "replay"] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

export const BULK_STATUSES = ["running", "done", "failed"] as const;
export type BulkStatus = (typeof BULK_STATUSES)[number];

export const BULK_LIMITS = {
  /** Runs looked at per page (one worker message); tests set it lower through Services.bulk. */
  pageSize: 100,
  /** A tenant's bulks running at once; one more is refused with 429 until one ends. */
  maxRunning: 3,
  /** How long a running bulk may go without saving a page before the sweeper sends its page again. */
  stallSeconds: 120,
  /** An ended bulk's record is kept this long, then expires (DynamoDB TTL). */
  retentionDays: 30,
} as const;

/** An ISO 8601 time with a zone, kept as the canonical `toISOString()` form the listing sorts by. */
const Instant = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value).toISOString())
  .describe("ISO 8601 time");

/**
 * Which of the tenant's runs a bulk acts on: all given conditions hold. `status` and `definition`
 * are read from the listing index, the creation times bound its sort key, `queue` is checked on
 * each run read. A bulk never acts on runs created after it started (its replays among them).
 */
export const BulkFilter = z
  .strictObject({
    status: z.enum(RUN_STATUSES).optional(),
    definition: Name.optional(),
    queue: Name.optional(),
    createdAfter: Instant.optional().describe("runs created at or after this time"),
    createdBefore: Instant.optional().describe("runs created before this time"),
  })
  .refine(
    (filter) =>
      filter.createdAfter === undefined ||
      filter.createdBefore === undefined ||
      filter.createdAfter < filter.createdBefore,
    { message: "createdAfter must be before createdBefore", path: ["createdAfter"] },
  );
export type BulkFilter = z.infer<typeof BulkFilter>;

/** Reasons and how many runs each covers, e.g. `{already_ended: 3}`. */
export type ReasonCounts = Record<string, number>;

export interface BulkTally {
  /** Runs the filter matched in the pages done. */
  matched: number;
  /** Runs cancelled (or asked to stop) or replayed; 0 for a dry run. */
  acted: number;
  /** Runs the action did not apply to (ended before it reached them, gone), by reason. */
  skipped: ReasonCounts;
  /** Runs the action was refused for (a deleted definition, a full line, …), by error code. */
  failed: ReasonCounts;
}

export interface BulkRecord extends BulkTally {
  tenant: string;
  id: string;
  action: BulkAction;
  filter: BulkFilter;
  dryRun: boolean;
  status: BulkStatus;
  /** Pages saved so far; the page message naming this number is the one to process next. */
  page: number;
  /** Where the next page starts in the listing; absent before the first page and at the end. */
  cursor?: string;
  /** The key that started it. */
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  endedAt?: string;
  /** Why it stopped, when `failed`. */
  error?: string;
  /** While running: when the sweeper should send its page again if no page was saved by then. */
  sweepAt?: string;
}

export function emptyTally(): BulkTally {
  return { matched: 0, acted: 0, skipped: {}, failed: {} };
}

export function addTally(into: BulkTally, more: BulkTally): BulkTally {
  return {
    matched: into.matched + more.matched,
    acted: into.acted + more.acted,
    skipped: addReasons(into.skipped, more.skipped),
    failed: addReasons(into.failed, more.failed),
  };
}

function addReasons(a: ReasonCounts, b: ReasonCounts): ReasonCounts {
  const sum = { ...a };
  for (const [reason, count] of Object.entries(b)) sum[reason] = (sum[reason] ?? 0) + count;
  return sum;
}

export function countReason(counts: ReasonCounts, reason: string): void {
  counts[reason] = (counts[reason] ?? 0) + 1;
}

export function sumReasons(counts: ReasonCounts): number {
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}

/**
 * The id of the run a bulk starts to replay `runId`: the same for every try of that page, so a
 * page done twice (a crash before its save, a duplicate message) starts it once — the second
 * start finds the id taken. `<bulk id>-<12 hex>` stays within a run id's 64 characters.
 */
export function bulkReplayRunId(bulkId: string, runId: string): string {
  return `${bulkId}-${createHash("sha256").update(runId).digest("hex").slice(0, 12)}`;
}
