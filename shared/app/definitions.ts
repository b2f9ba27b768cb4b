/** Registering task definitions: the only things a start can name. */

import { shardScope } from "../core/admission-shards.ts";
import { type CronSchedule, checkSchedule } from "../core/cron.ts";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_TIMEOUT_SECONDS,
  isLimited,
  type TaskDefinition,
  WORKFLOW_HANDLER,
} from "../core/definition.ts";
import { NotFoundError, PayloadTooLargeError, ValidationError } from "../core/errors.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { Page } from "../core/ports.ts";
import { SEALED_PREFIX, sealedLookalikeAt } from "../core/sealed.ts";
import { checkWorkflow, type WorkflowStep } from "../core/workflow.ts";
import { counterShardsFor, promoteWaiting, shardsOf } from "./admission.ts";
import type { Services } from "./services.ts";

export interface DefinitionInput {
  /** Required for tasks; workflows have none (the workflow engine runs them). */
  handler?: string;
  description?: string;
  params?: Record<string, unknown>;
  maxAttempts?: number;
  maxConcurrency?: number;
  maxQueueLength?: number;
  /** Its runs' place in a waiting line when a start gives none (0–9, higher first). */
  priority?: number;
  timeoutSeconds?: number;
  retryOnTimeout?: boolean;
  mode?: "sync" | "callback";
  callbackTimeoutSeconds?: number;
  schedule?: CronSchedule;
  kind?: "task" | "workflow";
  steps?: WorkflowStep[];
}

export async function putDefinition(
  svc: Services,
  tenant: string,
  name: string,
  input: DefinitionInput,
): Promise<{ definition: TaskDefinition; created: boolean }> {
  const workflow = input.kind === "workflow";
  if (workflow) await checkWorkflowDefinition(svc, tenant, name, input);
  else if (input.steps !== undefined)
    throw new ValidationError('"steps" belong to definitions with "kind": "workflow"');
  const handler = workflow ? WORKFLOW_HANDLER : input.handler;
  if (handler === undefined) throw new ValidationError('a task definition needs a "handler"');
  if (!workflow && svc.registry.get(handler) === undefined) {
    throw new ValidationError(
      `handler "${input.handler}" is not registered in code; registered handlers: ${svc.registry.keys().join(", ")}`,
      { details: { handler: input.handler, registered: svc.registry.keys() } },
    );
  }
  const params = input.params ?? {};
  if (jsonBytes(params) > LIMITS.defaultParamsBytes) {
    throw new PayloadTooLargeError(`default params exceed ${LIMITS.defaultParamsBytes} bytes`);
  }
  const lookalike = sealedLookalikeAt({ params, steps: input.steps });
  if (lookalike !== undefined) {
    throw new ValidationError(
      `"${lookalike}" holds a value starting with "${SEALED_PREFIX}"; only Baton seals values`,
    );
  }
  if (input.schedule !== undefined) checkSchedule(input.schedule);
  if (input.callbackTimeoutSeconds !== undefined && input.mode !== "callback") {
    throw new ValidationError('callbackTimeoutSeconds applies only to definitions with mode "callback"');
  }
  if (input.retryOnTimeout === true && workflow) {
    throw new ValidationError(
      "retryOnTimeout applies to task definitions; a workflow's steps have their own",
    );
  }
  if (input.maxQueueLength !== undefined && input.maxConcurrency === undefined) {
    throw new ValidationError(
      "maxQueueLength needs maxConcurrency: without a concurrency limit no run ever waits, so there is no line to limit",
    );
  }
  const now = svc.clock.now().toISOString();
  const previous = await svc.definitions.get(tenant, name);
  const definition: TaskDefinition = {
    tenant,
    name,
    handler,
    ...(workflow ? { kind: "workflow" as const, steps: input.steps } : {}),
    ...(input.description === undefined ? {} : { description: input.description }),
    params,
    maxAttempts: input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    timeoutSeconds: input.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    ...(input.maxConcurrency === undefined ? {} : { maxConcurrency: input.maxConcurrency }),
    ...(input.maxQueueLength === undefined ? {} : { maxQueueLength: input.maxQueueLength }),
    ...(input.priority === undefined ? {} : { priority: input.priority }),
    ...(input.retryOnTimeout === undefined ? {} : { retryOnTimeout: input.retryOnTimeout }),
    ...(input.mode === undefined ? {} : { mode: input.mode }),
    ...(input.callbackTimeoutSeconds === undefined
      ? {}
      : { callbackTimeoutSeconds: input.callbackTimeoutSeconds }),
    ...(input.schedule === undefined ? {} : { schedule: input.schedule }),
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
  };
  if (isLimited(definition)) {
    const counterShards = await counterShardsFor(svc, tenant, name, previous, definition);
    if (counterShards !== undefined) definition.counterShards = counterShards;
  }
  // The schedule first: if it cannot be set, the definition is not stored either.
  if (definition.schedule !== undefined || previous?.schedule !== undefined)
    await svc.scheduler.put(definition);
  const { created } = await svc.definitions.put(definition);
  // Limits are live: a raised or removed limit lets waiting runs in now.
  if (isLimited(previous) || isLimited(definition)) {
    // Each counter shard, of the old limits too: a shard a lowered limit left moves its line to the live ones.
    const shards = Math.max(shardsOf(previous ?? {}), shardsOf(definition));
    for (let shard = 0; shard < shards; shard += 1)
      await promoteWaiting(svc, tenant, shardScope(name, shard));
  }
  return { definition, created };
}

export async function getDefinition(svc: Services, tenant: string, name: string): Promise<TaskDefinition> {
  const definition = await svc.definitions.get(tenant, name);
  if (definition === undefined) throw new NotFoundError(`definition "${name}" does not exist`);
  return definition;
}

/** Runs already started keep their snapshot; deleting only stops new starts. */
export async function deleteDefinition(svc: Services, tenant: string, name: string): Promise<void> {
  await svc.scheduler.remove(tenant, name);
  if (!(await svc.definitions.delete(tenant, name)))
    throw new NotFoundError(`definition "${name}" does not exist`);
}

export function listDefinitions(
  svc: Services,
  tenant: string,
  page: { limit?: number; cursor?: string },
): Promise<Page<TaskDefinition>> {
  // Definitions carry default params of up to 256 KiB: the page stops by size, not only by count.
  return svc.definitions.list(tenant, {
    ...page,
    limit: page.limit ?? 50,
    maxBytes: LIMITS.responseBodyBytes,
  });
}

/**
 * A workflow: a DAG of steps whose definitions exist in the tenant and are tasks (workflows do
 * not nest), and none of the settings that belong to a task (limits, mode, handler).
 */
async function checkWorkflowDefinition(svc: Services, tenant: string, name: string, input: DefinitionInput) {
  if (input.steps === undefined) throw new ValidationError('a workflow needs "steps"');
  if (input.handler !== undefined)
    throw new ValidationError("a workflow has no handler: its steps name definitions");
  for (const field of ["maxConcurrency", "maxQueueLength", "mode", "callbackTimeoutSeconds"] as const) {
    if (input[field] !== undefined)
      throw new ValidationError(`"${field}" applies to the steps' definitions, not to a workflow`);
  }
  checkWorkflow(input.steps);
  for (const step of input.steps) {
    const definition =
      step.definition === name ? undefined : await svc.definitions.get(tenant, step.definition);
    if (definition === undefined) {
      throw new ValidationError(
        `step "${step.id}" names definition "${step.definition}", which does not exist`,
      );
    }
    if (definition.kind === "workflow") {
      throw new ValidationError(
        `step "${step.id}" names workflow "${step.definition}"; workflows do not nest`,
      );
    }
  }
}
