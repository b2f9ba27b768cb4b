import { z } from "zod";
import { ChainOutcome, ChainSpec } from "./chain.ts";
import { Priority } from "./priority.ts";
import { RunError } from "./run-errors.ts";
import { WorkflowStep } from "./workflow.ts";

/**
 * Run statuses of this release. Later releases add scheduled and awaiting; only what the code
 * enforces is listed here.
 */
export const RunStatus = {
  /** A delayed start (`at`/`after`): nothing is admitted until it is due. */
  scheduled: "scheduled",
  /** Accepted, in its definition's or its tenant's waiting line (DynamoDB), until a concurrency slot frees. */
  waiting: "waiting",
  /** Its message is in the run queue (SQS); a retry in backoff is queued too. */
  queued: "queued",
  running: "running",
  /** A callback-mode run whose handler returned: it waits for the outside system's callback. */
  awaiting: "awaiting",
  succeeded: "succeeded",
  failed: "failed",
  cancelled: "cancelled",
  timed_out: "timed_out",
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];
export const RUN_STATUSES = Object.values(RunStatus) as [RunStatus, ...RunStatus[]];

/**
 * The lifecycle as data: every write names the status it expects, and only these moves exist.
 * running → running is a re-claim after the previous worker's lease ran out (crash, lost host).
 * running → queued is a retry waiting for its backoff (or one the sweeper sends again).
 */
export const RUN_TRANSITIONS = {
  scheduled: ["queued", "waiting", "cancelled", "failed"],
  waiting: ["queued", "cancelled"],
  queued: ["running", "cancelled"],
  running: ["running", "queued", "awaiting", "succeeded", "failed", "cancelled", "timed_out"],
  awaiting: ["succeeded", "failed", "cancelled", "timed_out"],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
} as const satisfies Record<RunStatus, readonly RunStatus[]>;

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return (RUN_TRANSITIONS[from] as readonly RunStatus[]).includes(to);
}

export function isTerminal(status: RunStatus): boolean {
  return RUN_TRANSITIONS[status].length === 0;
}

export const LogLine = z.object({ at: z.string(), line: z.string() });
export type LogLine = z.infer<typeof LogLine>;

/** A finished `ctx.once` call, kept on the run so later attempts return its result instead of redoing it. */
export const OnceRecord = z.object({
  attempt: z.number().int(),
  at: z.string(),
  result: z.unknown(),
});
export type OnceRecord = z.infer<typeof OnceRecord>;

/** How a run came to be. */
export const RunTrigger = {
  /** POST /v1/tasks (or the CLI and client, which call it). */
  api: "api",
  /** A definition's cron schedule fired. */
  schedule: "schedule",
  /** A run that succeeded started it through a chain record. */
  chain: "chain",
  /** A workflow run started it as one of its steps. */
  workflow: "workflow",
  /** A handler started it with `ctx.tasks.start`. */
  task: "task",
  /** POST /v1/tasks/{id}/replay. */
  replay: "replay",
} as const;
export type RunTrigger = (typeof RunTrigger)[keyof typeof RunTrigger];
export const RUN_TRIGGERS = Object.values(RunTrigger) as [RunTrigger, ...RunTrigger[]];

/**
 * The run that started this one (absent for runs started from outside: the API, a schedule).
 * `via` says how: `chain:<name>`, `step:<id>`, `task:<call key>`.
 */
export const RunOrigin = z.object({ taskId: z.string(), tenant: z.string(), via: z.string() });
export type RunOrigin = z.infer<typeof RunOrigin>;

/** A run of a task definition, as stored. Times are ISO 8601 UTC strings (they sort as text). */
export const Run = z.object({
  tenant: z.string(),
  id: z.string(),
  definition: z.string(),
  handler: z.string(),
  queue: z.string().optional(),
  params: z.record(z.string(), z.unknown()),
  /** When a delayed start becomes due. */
  scheduledFor: z.string().optional(),
  /** What started the run; absent on runs stored before provenance existed (read as `api`). */
  trigger: z.enum(RUN_TRIGGERS).optional(),
  /** The run that started this one, in this tenant or another (a chain's hop). */
  origin: RunOrigin.optional(),
  /** The first run of the tree this run belongs to (itself when absent) and how far below it this is. */
  root: z.object({ taskId: z.string(), tenant: z.string() }).optional(),
  depth: z.number().int().nonnegative().optional(),
  /** A replay's original run (POST /v1/tasks/{id}/replay), in the same tenant. */
  replayOf: z.string().optional(),
  /**
   * A workflow replayed from its failed step: the steps that had succeeded, each with the run
   * that holds its output. They are not run again; the workflow reads them as its own.
   */
  keptSteps: z.record(z.string(), z.string()).optional(),
  /** The W3C traceparent of the span that started the run, when tracing is on. */
  trace: z.string().max(128).optional(),
  /**
   * The debounce key of the window this run is (shared/core/debounce.ts): a trailing run's due
   * time moves with each start that joins it, so its timer may fire early and be set again.
   */
  debounceKey: z.string().optional(),
  /** The start's idempotency key, if it had one. */
  idempotencyKey: z.string().optional(),
  /** Each attempt may run this long before it ends `timed_out`. */
  timeoutSeconds: z.number().int().positive(),
  /** True while the run holds one of its definition's `maxConcurrency` slots (queued or running). */
  slot: z.boolean().optional(),
  /** True while the run holds one of its tenant's `maxConcurrency` slots (a tenant the operator capped). */
  tenantSlot: z.boolean().optional(),
  /** True while the run waits in its tenant's line (for a tenant slot) rather than its definition's. */
  tenantLine: z.boolean().optional(),
  /**
   * The counter shard of its definition it takes a slot, waits or holds a slot in (admission-shards.ts);
   * absent: shard 0, the only one of a definition with fewer than 100 slots.
   */
  shard: z.number().int().nonnegative().optional(),
  /** Its place in a waiting line: 0–9, higher first, then start order; absent: 0. */
  priority: Priority.optional(),
  /** The limits in force when the run started; live limits come from the definition when it still exists. */
  limits: z
    .object({
      maxConcurrency: z.number().int().optional(),
      maxQueueLength: z.number().int().optional(),
      counterShards: z.number().int().optional(),
    })
    .optional(),
  status: z.enum(RUN_STATUSES),
  attempts: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  /** A timed-out attempt is retried like a crash while attempts remain (the definition's setting, snapshotted). */
  retryOnTimeout: z.boolean().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The API key that started the run (what chains later call `@UserID@`). */
  createdBy: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  leaseUntil: z.string().optional(),
  /** When the current attempt was claimed; it times out `timeoutSeconds` later. */
  attemptStartedAt: z.string().optional(),
  nextAttemptAt: z.string().optional(),
  /** `callback`: after the handler returns, the run waits (`awaiting`) for POST /v1/callbacks. */
  mode: z.enum(["sync", "callback"]).optional(),
  callbackTimeoutSeconds: z.number().int().positive().optional(),
  /** SHA-256 of the current callback token; removed once a final callback is accepted. */
  callbackTokenHash: z.string().optional(),
  /** An awaiting run with no final callback by then ends `timed_out`. */
  callbackDeadline: z.string().optional(),
  /** A workflow run: its steps (a snapshot of the definition's) and each step's status. */
  kind: z.enum(["task", "workflow"]).optional(),
  workflowSteps: z.array(WorkflowStep).optional(),
  stepStatus: z.record(z.string(), z.string()).optional(),
  /** What to start when this run succeeds, and what came of it. */
  chains: z.array(ChainSpec).optional(),
  chainOutcomes: z.array(ChainOutcome).optional(),
  /** A workflow step's run: its workflow run and step id. */
  parent: z.object({ id: z.string(), step: z.string() }).optional(),
  /** Set by a cancel of a running run; its worker stops it and ends it `cancelled`. */
  cancelRequestedAt: z.string().optional(),
  /** File tokens of this run's files issued at or before this time no longer open them. */
  fileTokensRevokedAt: z.string().optional(),
  /** When the sweeper should look at this run if nothing else has moved it by then. */
  sweepAt: z.string().optional(),
  output: z.unknown().optional(),
  error: RunError.optional(),
  feedback: z.string().optional(),
  progress: z.number().min(0).max(1).optional(),
  subtext: z.string().optional(),
  logs: z.array(LogLine),
  logsDropped: z.number().int().nonnegative().optional(),
  once: z.record(z.string(), OnceRecord),
});
export type Run = z.infer<typeof Run>;

/**
 * A run as a list holds it: without its bulky fields (params, output, logs), which may live
 * beside the run's item or in S3, so a list page reads one small item per run whatever the runs
 * hold. A run's own page reads it whole.
 */
export const RunSummary = Run.omit({ params: true, output: true, logs: true });
export type RunSummary = z.infer<typeof RunSummary>;

export function summaryOf(run: Run): RunSummary {
  const { params: _params, output: _output, logs: _logs, ...summary } = run;
  return summary;
}

export interface RunRef {
  tenant: string;
  id: string;
}

export function refOf(run: Pick<Run, "tenant" | "id">): RunRef {
  return { tenant: run.tenant, id: run.id };
}
