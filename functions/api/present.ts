/** What the API shows of stored records: no keys, hashes, leases or other internals. */
import type { TaskDefinition } from "../../shared/core/definition.ts";
import type { AccessGrant, ChainRecord } from "../../shared/core/ports.ts";
import type { Run } from "../../shared/core/run.ts";
import { maskSealed } from "../../shared/core/sealed.ts";
import { stepRunId } from "../../shared/core/workflow.ts";
import type { ChainView, DefinitionView, GrantView, TaskView } from "./responses.ts";

export function presentRun(run: Run): TaskView {
  return {
    taskId: run.id,
    definition: run.definition,
    queue: run.queue ?? null,
    status: run.status,
    attempts: run.attempts,
    maxAttempts: run.maxAttempts,
    scheduledFor: run.scheduledFor ?? null,
    trigger: run.trigger ?? "api",
    timeoutSeconds: run.timeoutSeconds,
    mode: run.mode ?? "sync",
    kind: run.kind ?? "task",
    ...(run.kind === "workflow"
      ? {
          steps: (run.workflowSteps ?? []).map((step) => ({
            id: step.id,
            definition: step.definition,
            dependsOn: step.dependsOn ?? [],
            taskId: stepRunId(run.id, step.id),
            status: run.stepStatus?.[step.id] ?? "pending",
          })),
        }
      : {}),
    parent: run.parent === undefined ? null : { taskId: run.parent.id, step: run.parent.step },
    chains: maskSealed(run.chains ?? []),
    chainOutcomes: run.chainOutcomes ?? [],
    callbackDeadline: run.callbackDeadline ?? null,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    startedAt: run.startedAt ?? null,
    endedAt: run.endedAt ?? null,
    nextAttemptAt: run.nextAttemptAt ?? null,
    cancelRequestedAt: run.cancelRequestedAt ?? null,
    idempotencyKey: run.idempotencyKey ?? null,
    createdBy: run.createdBy,
    params: maskSealed(run.params),
    output: run.output ?? null,
    error: run.error ?? null,
    feedback: run.feedback ?? null,
    progress: run.progress ?? null,
    subtext: run.subtext ?? null,
    logs: run.logs,
    logsDropped: run.logsDropped ?? 0,
  };
}

export function presentDefinition(definition: TaskDefinition): DefinitionView {
  const { tenant: _tenant, ...shown } = definition;
  return shown;
}

export function presentChain(chain: ChainRecord): ChainView {
  const { tenant: _tenant, ...shown } = chain;
  return shown;
}

export function presentGrant({ sourceTenant, chain, createdAt }: AccessGrant): GrantView {
  return { sourceTenant, chain, createdAt };
}
