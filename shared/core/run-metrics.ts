/**
 * What Baton measures about runs, as data and pure rules: the metric names with their CloudWatch
 * units, and which values each event of a run yields. Counts are per run, never per attempt: a
 * run that fails twice and then succeeds is one start and one success (its retries show in the
 * logs). See docs/observability.md.
 */
import type { Run, RunStatus } from "./run.ts";

export const RUN_METRICS = {
  /** A run was accepted by a start: the API, a cron firing, a chain or a workflow step. */
  RunsStarted: "Count",
  RunsSucceeded: "Count",
  RunsFailed: "Count",
  RunsTimedOut: "Count",
  RunsCancelled: "Count",
  /** From accepted (or due, for a delayed start) to its first claim by a worker. */
  QueueWait: "Milliseconds",
  /** From its first claim to its end, retries and callback waits included. */
  RunTime: "Milliseconds",
} as const satisfies Record<string, "Count" | "Milliseconds">;
export type RunMetricName = keyof typeof RUN_METRICS;
export type RunMetricValues = Partial<Record<RunMetricName, number>>;

/**
 * Which run a measurement is about. `definition` is a metric dimension; tenant, taskId and attempt
 * are kept with the value (searchable) but are no dimensions: one metric per tenant or task
 * would make CloudWatch's bill grow with the number of tenants and runs.
 */
export interface RunLabels {
  tenant: string;
  taskId: string;
  definition: string;
  attempt?: number;
}

export function labelsOf(run: Pick<Run, "tenant" | "id" | "definition" | "attempts">): RunLabels {
  return {
    tenant: run.tenant,
    taskId: run.id,
    definition: run.definition,
    ...(run.attempts > 0 ? { attempt: run.attempts } : {}),
  };
}

const ENDED: Record<"succeeded" | "failed" | "timed_out" | "cancelled", RunMetricName> = {
  succeeded: "RunsSucceeded",
  failed: "RunsFailed",
  timed_out: "RunsTimedOut",
  cancelled: "RunsCancelled",
};

/**
 * A worker just claimed `run` (as the claim wrote it): its queue wait, on the first attempt only.
 * A retry waits on purpose (its backoff), and a re-claim after a lost worker is not a queue wait.
 */
export function claimedValues(run: Run): RunMetricValues | undefined {
  if (run.attempts !== 1 || run.kind === "workflow") return undefined;
  const claimedAt = Date.parse(run.attemptStartedAt ?? run.startedAt ?? "");
  const readyAt = Date.parse(run.scheduledFor ?? run.createdAt);
  return durationValues("QueueWait", claimedAt - readyAt);
}

/** A write just moved `run` (as it was before) to `to`: a count and its run time if it ended. */
export function endedValues(
  run: Run,
  to: RunStatus | null | undefined,
  endedAt: string | null | undefined,
): RunMetricValues | undefined {
  if (to !== "succeeded" && to !== "failed" && to !== "timed_out" && to !== "cancelled") return undefined;
  const values: RunMetricValues = { [ENDED[to]]: 1 };
  if (run.startedAt === undefined || endedAt == null) return values;
  return { ...values, ...durationValues("RunTime", Date.parse(endedAt) - Date.parse(run.startedAt)) };
}

/** Clocks of different hosts may disagree by a little: a negative duration counts as zero. */
function durationValues(name: "QueueWait" | "RunTime", ms: number): RunMetricValues | undefined {
  return Number.isFinite(ms) ? { [name]: Math.max(0, ms) } : undefined;
}
