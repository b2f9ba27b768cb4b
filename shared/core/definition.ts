import { z } from "zod";
import { LIMITS } from "./limits.ts";
import { Name } from "./names.ts";
import { Priority } from "./priority.ts";
import { WorkflowStep } from "./workflow.ts";

/** A task definition (template): the only thing a start request may name. */
export const TaskDefinition = z.object({
  tenant: z.string(),
  name: Name,
  handler: z.string(),
  description: z.string().optional(),
  /** Default params; a start's params are merged over them and the result is snapshotted on the run. */
  params: z.record(z.string(), z.unknown()),
  maxAttempts: z.number().int().min(1).max(LIMITS.maxAttempts),
  /** At most this many runs hold a slot (queued or running) at once; the rest wait. Unlimited when absent. */
  maxConcurrency: z.number().int().min(1).max(LIMITS.maxConcurrency).optional(),
  /** At most this many runs wait for a slot; a start beyond answers 429 queue_full. Unlimited when absent. */
  maxQueueLength: z.number().int().min(0).max(LIMITS.maxQueueLength).optional(),
  /**
   * The counter shards its limits are split over (shared/core/admission-shards.ts), kept while any
   * of its runs holds a slot or waits so a re-split never lets more than maxConcurrency in.
   * Absent: shardCount(maxConcurrency). Stored by putDefinition, never taken from a request.
   */
  counterShards: z.number().int().min(1).optional(),
  /** The priority of its runs in a waiting line when a start gives none (0 when absent). */
  priority: Priority.optional(),
  timeoutSeconds: z.number().int().min(1).max(LIMITS.maxTimeoutSeconds),
  /**
   * A timed-out attempt is retried (with backoff, like a thrown error) while attempts remain;
   * the last one still ends `timed_out`. Default false: a timeout is final.
   */
  retryOnTimeout: z.boolean().optional(),
  /** `callback`: after the handler returns, the run waits for an outside system's callback. */
  mode: z.enum(["sync", "callback"]).optional(),
  /** How long a callback-mode run waits for its final callback before it ends `timed_out`. */
  callbackTimeoutSeconds: z.number().int().min(1).max(LIMITS.maxCallbackTimeoutSeconds).optional(),
  /** `workflow`: the definition runs `steps` (other definitions) in dependency order; no handler of its own. */
  kind: z.enum(["task", "workflow"]).optional(),
  steps: z.array(WorkflowStep).optional(),
  /** Start a run on this cron schedule, with these params. */
  schedule: z
    .object({ cron: z.string(), timezone: z.string(), params: z.record(z.string(), z.unknown()).optional() })
    .optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type TaskDefinition = z.infer<typeof TaskDefinition>;

export const DEFAULT_MAX_ATTEMPTS = 3;
/** The handler key of workflow definitions: the engine in shared/app/workflows.ts runs them. */
export const WORKFLOW_HANDLER = "workflow";
/** Ten minutes leave a 15-minute Lambda invocation room for its other messages and the write-back. */
export const DEFAULT_TIMEOUT_SECONDS = 600;
export const DEFAULT_CALLBACK_TIMEOUT_SECONDS = 24 * 60 * 60;

export type DefinitionLimits = Pick<TaskDefinition, "maxConcurrency" | "maxQueueLength" | "counterShards">;

export function isLimited(limits: DefinitionLimits | undefined): boolean {
  return limits?.maxConcurrency !== undefined || limits?.maxQueueLength !== undefined;
}
