/**
 * The three moments a run is measured, each called from the one place it happens and only after
 * the conditional write that made it happen succeeded: a start (startTask), a first claim (the
 * worker) and an end (endRun, and the two ends that do not go through it: a delayed start whose
 * waiting line was full, and a workflow run). See docs/observability.md.
 */

import type { Run } from "../core/run.ts";
import { claimedValues, endedValues, labelsOf, type RunMetricValues } from "../core/run-metrics.ts";
import type { Services } from "./services.ts";

export function recordStart(svc: Services, run: Run): void {
  record(svc, run, { RunsStarted: 1 });
}

export function recordClaim(svc: Services, claimed: Run): void {
  record(svc, claimed, claimedValues(claimed));
}

/** `run` as it was before the write that ended it; `patch` that write. Non-terminal moves are ignored. */
export function recordEnd(
  svc: Services,
  run: Run,
  patch: { status?: Run["status"] | null; endedAt?: string | null },
): void {
  record(svc, run, endedValues(run, patch.status, patch.endedAt));
}

function record(svc: Services, run: Run, values: RunMetricValues | undefined): void {
  if (values === undefined) return;
  try {
    svc.metrics.record(labelsOf(run), values);
  } catch (error) {
    svc.log.warn("could not record a metric", { error, values });
  }
}
