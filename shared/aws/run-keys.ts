/**
 * The run table's key layout that every RunStore adapter must reproduce (the DynamoDB store
 * writes it; the memory store answers the same queries from it): index partitions, sort keys,
 * shards and cursors. No SDK here, so the memory adapter can share it.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { RunId } from "../core/names.ts";
import { isTerminal, type Run, type RunStatus } from "../core/run.ts";

/**
 * The sweep and due indexes are spread over this many partitions so that writes to them (one per
 * status change) never concentrate on one partition; readers query them all.
 */
export const SWEEP_SHARDS = 8;

/** The shard of a run in the sweep and due indexes. */
export function sweepShardOf(runId: string): number {
  return (createHash("sha256").update(runId).digest()[0] ?? 0) % SWEEP_SHARDS;
}

/**
 * The byStatus partition of a run. Unfinished runs share one "active" partition, so moves
 * between active statuses (the claim above all) rewrite no index entry; succeeded runs, the
 * bulk of all runs, are left out and listed through byTenant/byDefinition instead, so the end
 * of a plain task deletes one index entry rather than moving it. Listing filters by the
 * run's real status after reading it.
 */
export function statusKeyOf(tenant: string, status: RunStatus): string | undefined {
  if (status === "succeeded") return undefined;
  return `${tenant}#${isTerminal(status) ? status : "active"}`;
}

/** The sort key of the list indexes: creation time, then id, so equal times still order. */
export function createdKeyOf(run: Pick<Run, "createdAt" | "id">): string {
  return `${run.createdAt}#${run.id}`;
}

/** A list cursor: the run's own position only; the tenant parts come from the caller. */
export const RunCursor = z.object({ id: RunId, created: z.string().max(100) });
/** A cursor through what a run started: the child's position (it may be another tenant's). */
export const StartedCursor = z.object({ tenant: RunId, id: RunId, created: z.string().max(100) });
