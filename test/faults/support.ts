/** What the fault tests share: reading the effects file, the runs as stored, a sweeper from the future. */
import { existsSync, readFileSync } from "node:fs";
import type { LocalStack } from "../../local/stack.ts";
import type { Services } from "../../shared/app/services.ts";
import { sweep } from "../../shared/app/sweeper.ts";
import { readRuns } from "../support/tables.ts";

export const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/** A seed from the environment (to replay a failure) or a fresh one; printed by each test. */
export function seedFromEnv(): number {
  const given = process.env.BATON_FAULT_SEED;
  return given === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(given);
}

export interface StoredRun {
  id: string;
  status: string;
  definition: string;
  attempts: number;
  endedAt?: string;
  idempotencyKey?: string;
  once?: Record<string, { attempt: number }>;
}

export async function storedRuns(stack: LocalStack): Promise<StoredRun[]> {
  return (await readRuns(stack.endpoints.dynamodb, stack.prefix)).map((item) => ({
    ...(item as Omit<StoredRun, "id">),
    id: String(item.pk).slice(String(item.tenant).length + 1),
  }));
}

/** The once-effects file: for each task id, the attempt numbers in which `fn` ran, in order. */
export function readEffects(file: string): Map<string, number[]> {
  const byTask = new Map<string, number[]>();
  if (!existsSync(file)) return byTask;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    // "<tenant>:<taskId>:effect attempt <n>"
    const match = /^[^:]+:([^:]+):effect attempt (\d+)$/.exec(line);
    if (match === null) continue;
    const [, taskId = "", attempt = "0"] = match;
    byTask.set(taskId, [...(byTask.get(taskId) ?? []), Number(attempt)]);
  }
  return byTask;
}

/**
 * What `ctx.once` promises: once its record is on the run, `fn` never runs again. So the
 * effect's last call is the recorded attempt's, and that attempt called it once. Calls in earlier
 * attempts happened in the documented window (fn acted; its record was never written), which
 * the idempotency key it was given absorbs. Returns the runs that broke the promise.
 */
export function effectsAfterRecord(runs: StoredRun[], effects: Map<string, number[]>): string[] {
  const broken: string[] = [];
  for (const run of runs) {
    const recorded = run.once?.effect?.attempt;
    const calls = effects.get(run.id) ?? [];
    if (recorded === undefined) {
      if (run.status === "succeeded") broken.push(`${run.id}: succeeded without a once record`);
      continue;
    }
    const inRecorded = calls.filter((attempt) => attempt === recorded).length;
    const later = calls.filter((attempt) => attempt > recorded).length;
    if (inRecorded !== 1 || later > 0) broken.push(`${run.id}: record attempt ${recorded}, calls ${calls}`);
  }
  return broken;
}

/** Calls of `fn` that a system honouring the idempotency key absorbed (the documented window). */
export function repeatedCalls(effects: Map<string, number[]>): number {
  return [...effects.values()].reduce((sum, calls) => sum + calls.length - 1, 0);
}

/**
 * Runs the sweeper as if `aheadMs` had passed: what it does after 15 minutes (resending a queued
 * run whose message was lost) happens now. Only call it when no run is `running`, or it would
 * take live runs from their workers.
 */
export function sweepAhead(services: Services, aheadMs: number) {
  return sweep({ ...services, clock: { now: () => new Date(Date.now() + aheadMs) } });
}

/** Sleeps, for pacing loops. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
