/** What the API shows of stored records: no keys, hashes, leases or other internals. */

import type { TaskCounts } from "../../shared/app/task-counts.ts";
import { type Attempt, attemptHistoryOf } from "../../shared/core/attempts.ts";
import { type BulkRecord, sumReasons } from "../../shared/core/bulk.ts";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import { credentialKindsOf, type DestinationRecord } from "../../shared/core/destination.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import type { AccessGrant, ChainRecord, StartedRun } from "../../shared/core/ports.ts";
import type { Run, RunSummary } from "../../shared/core/run.ts";
import { maskSealed } from "../../shared/core/sealed.ts";
import type { Principal } from "../../shared/core/tenant.ts";
import { stepRunIdOf } from "../../shared/core/workflow.ts";
import type {
  BulkView,
  CallerView,
  CancelledTask,
  ChainView,
  DefinitionView,
  DestinationView,
  GrantView,
  StartedRunView,
  StartedTask,
  TaskCountsView,
  TaskSummaryView,
  TaskView,
} from "./responses.ts";

/** What a run's list entry and its own page both show, the same way. */
function runFields(run: RunSummary): Omit<TaskSummaryView, "feedback"> {
  return {
    taskId: run.id,
    definition: run.definition,
    queue: run.queue ?? null,
    status: run.status,
    attempts: run.attempts,
    maxAttempts: run.maxAttempts,
    scheduledFor: run.scheduledFor ?? null,
    trigger: run.trigger ?? "api",
    mode: run.mode ?? "sync",
    kind: run.kind ?? "task",
    parent: run.parent === undefined ? null : { taskId: run.parent.id, step: run.parent.step },
    callbackDeadline: run.callbackDeadline ?? null,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    startedAt: run.startedAt ?? null,
    endedAt: run.endedAt ?? null,
    nextAttemptAt: run.nextAttemptAt ?? null,
    cancelRequestedAt: run.cancelRequestedAt ?? null,
    createdBy: run.createdBy,
    idempotencyKey: run.idempotencyKey ?? null,
    error: run.error ?? null,
    progress: run.progress ?? null,
    subtext: run.subtext ?? null,
  };
}

/**
 * A run in full. `attempts` is its attempt history (app/attempt-history.ts); without it, only what
 * the run itself tells (its current or last attempt).
 */
export function presentRun(run: Run, attempts: readonly Attempt[] = attemptHistoryOf(run, [])): TaskView {
  return {
    ...runFields(run),
    tenant: run.tenant,
    origin: run.origin ?? null,
    root: run.root ?? { taskId: run.id, tenant: run.tenant },
    depth: run.depth ?? 0,
    replayOf: run.replayOf ?? null,
    priority: run.priority ?? 0,
    retryOnTimeout: run.retryOnTimeout === true,
    timeoutSeconds: run.timeoutSeconds,
    ...(run.kind === "workflow"
      ? {
          steps: (run.workflowSteps ?? []).map((step) => ({
            id: step.id,
            definition: step.definition,
            dependsOn: step.dependsOn ?? [],
            taskId: stepRunIdOf(run, step.id),
            status: run.stepStatus?.[step.id] ?? "pending",
          })),
        }
      : {}),
    chains: maskSealed(run.chains ?? []),
    chainOutcomes: run.chainOutcomes ?? [],
    params: maskSealed(run.params),
    output: run.output ?? null,
    feedback: run.feedback ?? null,
    logs: run.logs,
    logsDropped: run.logsDropped ?? 0,
    attemptHistory: [...attempts],
  };
}

export function presentCounts(counts: TaskCounts): TaskCountsView {
  return {
    since: counts.since,
    total: counts.total,
    byStatus: counts.byStatus,
    byDefinition: counts.byDefinition,
    complete: counts.complete,
  };
}

/** A run in a list: bounded whatever the run holds (see TaskSummaryView). */
export function presentRunSummary(run: RunSummary): TaskSummaryView {
  const feedback = run.feedback ?? null;
  return {
    ...runFields(run),
    // The newest end: appended feedback grows at the end, and that is what a list shows.
    feedback:
      feedback !== null && feedback.length > LIMITS.summaryFeedbackChars
        ? feedback.slice(feedback.length - LIMITS.summaryFeedbackChars)
        : feedback,
  };
}

export function presentDefinition(definition: TaskDefinition): DefinitionView {
  // counterShards is admission's bookkeeping (docs/admission.md), not part of what was put.
  const { tenant: _tenant, counterShards: _shards, ...shown } = definition;
  return shown;
}

export function presentChain(chain: ChainRecord): ChainView {
  const { tenant: _tenant, ...shown } = chain;
  return shown;
}

/** A run another run started, as the caller sees it: one in another tenant is named, not described. */
export function presentStartedRun(run: StartedRun, callerTenant: string): StartedRunView {
  return {
    taskId: run.id,
    tenant: run.tenant,
    definition: run.tenant === callerTenant ? run.definition : null,
    trigger: run.trigger,
    via: run.via,
    createdAt: run.createdAt,
  };
}

/**
 * The answer to a start; an idempotent repeat says it started nothing new, a debounced start says
 * so, and whether it joined a window an earlier start opened (nothing new started either).
 */
export function presentStarted(run: Run, created: boolean, debounced?: "opened" | "joined"): StartedTask {
  if (debounced !== undefined) {
    return {
      taskId: run.id,
      status: run.status,
      debounced: true as const,
      ...(debounced === "joined" ? { joined: true as const } : {}),
    };
  }
  return {
    taskId: run.id,
    status: run.status,
    ...(created ? {} : { idempotentReplay: true as const }),
  };
}

export function presentCancelled(run: Run): CancelledTask {
  return { taskId: run.id, status: run.status, cancelRequested: run.cancelRequestedAt !== undefined };
}

export function presentBulk(bulk: BulkRecord): BulkView {
  return {
    bulkId: bulk.id,
    action: bulk.action,
    filter: bulk.filter,
    dryRun: bulk.dryRun,
    status: bulk.status,
    matched: bulk.matched,
    acted: bulk.acted,
    skipped: { count: sumReasons(bulk.skipped), reasons: bulk.skipped },
    failed: { count: sumReasons(bulk.failed), reasons: bulk.failed },
    pages: bulk.page,
    createdAt: bulk.createdAt,
    updatedAt: bulk.updatedAt,
    endedAt: bulk.endedAt ?? null,
    error: bulk.error ?? null,
  };
}

/** Who the caller is (GET /v1/tenant). */
export function presentPrincipal(principal: Principal): CallerView {
  return principal.kind === "operator"
    ? ({ role: "operator" } as const)
    : { tenant: principal.tenant, role: principal.role, keyId: principal.keyId };
}

export function presentGrant(grant: AccessGrant): GrantView {
  return { sourceTenant: grant.sourceTenant, chain: grant.chain, createdAt: grant.createdAt };
}

/** A destination without its credentials: only which kinds are set. */
export function presentDestination(destination: DestinationRecord): DestinationView {
  return {
    name: destination.name,
    url: destination.url,
    username: destination.username,
    credentials: credentialKindsOf(destination),
    ...(destination.hostKey === undefined ? {} : { hostKey: destination.hostKey }),
    createdAt: destination.createdAt,
    updatedAt: destination.updatedAt,
  };
}
