/**
 * The run lifecycle as pure functions: given a run and the time, what to write next. No I/O, no
 * clock of its own; the use cases (shared/app/) apply these with conditional writes, so a
 * decision made on stale data simply fails to apply.
 */

import { shardScope } from "./admission-shards.ts";
import { attemptRecordOf } from "./attempts.ts";
import type { ChainSpec } from "./chain.ts";
import {
  DEFAULT_CALLBACK_TIMEOUT_SECONDS,
  DEFAULT_TIMEOUT_SECONDS,
  isLimited,
  type TaskDefinition,
} from "./definition.ts";
import { NonRetriableError, runErrorCodeOf } from "./errors.ts";
import { type CounterEffect, type RunGuard, type RunPatch, TENANT_SCOPE } from "./ports.ts";
import {
  canTransition,
  isTerminal,
  type Run,
  type RunOrigin,
  type RunStatus,
  type RunTrigger,
} from "./run.ts";
import { RUN_ERRORS, type RunError, type RunErrorCode } from "./run-errors.ts";
import type { WorkflowStep } from "./workflow.ts";

export interface NewRunInput {
  tenant: string;
  id: string;
  definition: TaskDefinition;
  params: Record<string, unknown>;
  queue?: string;
  createdBy: string;
  idempotencyKey?: string;
  /** A delayed start: when it becomes due (status `scheduled` until then). */
  scheduledFor?: Date;
  /** Default `api`. */
  trigger?: RunTrigger;
  /** The run that started this one, if a run did (a chain, a workflow step, a handler's start). */
  origin?: Provenance;
  /** A workflow step's run: its workflow run and step. */
  parent?: { id: string; step: string };
  chains?: ChainSpec[];
  /** The start's trace context (W3C traceparent), when traced. */
  trace?: string;
  /** A replay: the run it replays and, for a workflow, what it keeps of it. */
  replay?: ReplayOf;
  /** Its place in a waiting line (0–9, higher first); 0 when absent. */
  priority?: number;
  /** The debounce key of the window it opens. */
  debounceKey?: string;
}

export interface ReplayOf {
  of: string;
  /** A workflow's steps as the original ran them, and the succeeded ones it keeps. */
  steps?: WorkflowStep[];
  keptSteps?: Record<string, string>;
}

function replayFields(input: NewRunInput): Pick<Run, "replayOf" | "keptSteps"> {
  if (input.replay === undefined) return {};
  const { of, keptSteps } = input.replay;
  return {
    replayOf: of,
    ...(keptSteps === undefined || Object.keys(keptSteps).length === 0 ? {} : { keptSteps }),
  };
}

/** The starting run, as a new run records it: who, how, and where in its tree. */
export interface Provenance extends RunOrigin {
  root: { taskId: string; tenant: string };
  depth: number;
}

/** What a run started by `parent` records about it (`via`: how, e.g. `chain:notify`). */
export function provenanceFrom(
  parent: Pick<Run, "id" | "tenant" | "root" | "depth">,
  via: string,
): Provenance {
  return {
    taskId: parent.id,
    tenant: parent.tenant,
    via,
    root: parent.root ?? { taskId: parent.id, tenant: parent.tenant },
    depth: (parent.depth ?? 0) + 1,
  };
}

function provenanceFields(input: NewRunInput): Pick<Run, "trigger" | "origin" | "root" | "depth"> {
  const trigger = input.trigger ?? "api";
  if (input.origin === undefined) return { trigger };
  const { root, depth, ...origin } = input.origin;
  return { trigger, origin, root, depth };
}

/**
 * How long a queued run may sit before the sweeper sends its message again (in case the process
 * that wrote it died before sending). Far above any normal wait, so repeats stay rare; a repeat
 * is harmless anyway, as a claim happens once.
 */
export const RESEND_AFTER_MS = 15 * 60_000;
/** Slack after the longest possible attempt before the sweeper looks at a running run. */
export const SWEEP_GRACE_MS = 2 * 60_000;

/** A new run, its params the definition's defaults with the start's params over them (a snapshot). */
export function newRun(input: NewRunInput, status: "queued" | "waiting" | "scheduled", now: Date): Run {
  const at = now.toISOString();
  const { definition } = input;
  const limits = {
    ...(definition.maxConcurrency === undefined ? {} : { maxConcurrency: definition.maxConcurrency }),
    ...(definition.maxQueueLength === undefined ? {} : { maxQueueLength: definition.maxQueueLength }),
    // So a deleted definition's runs keep their shards' shares too.
    ...(definition.counterShards === undefined ? {} : { counterShards: definition.counterShards }),
  };
  return {
    tenant: input.tenant,
    id: input.id,
    definition: definition.name,
    handler: definition.handler,
    ...(input.queue === undefined ? {} : { queue: input.queue }),
    params: { ...definition.params, ...input.params },
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
    ...(input.debounceKey === undefined ? {} : { debounceKey: input.debounceKey }),
    // Stored only when it changes the order: a run without it is priority 0.
    ...(input.priority === undefined || input.priority === 0 ? {} : { priority: input.priority }),
    ...(input.scheduledFor === undefined ? {} : { scheduledFor: input.scheduledFor.toISOString() }),
    ...provenanceFields(input),
    ...replayFields(input),
    ...(input.trace === undefined ? {} : { trace: input.trace }),
    ...(input.parent === undefined ? {} : { parent: input.parent }),
    ...(input.chains === undefined || input.chains.length === 0 ? {} : { chains: input.chains }),
    timeoutSeconds: definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    ...(definition.retryOnTimeout === true ? { retryOnTimeout: true } : {}),
    ...(definition.mode === "callback"
      ? {
          mode: "callback" as const,
          callbackTimeoutSeconds: definition.callbackTimeoutSeconds ?? DEFAULT_CALLBACK_TIMEOUT_SECONDS,
        }
      : {}),
    ...(isLimited(limits) ? { limits } : {}),
    // A run that goes straight to the queue of a limited definition takes its slot at once.
    ...(status === "queued" && isLimited(limits) ? { slot: true } : {}),
    status,
    attempts: 0,
    maxAttempts: definition.maxAttempts,
    createdAt: at,
    updatedAt: at,
    createdBy: input.createdBy,
    ...(status === "queued" ? { sweepAt: after(now, RESEND_AFTER_MS) } : {}),
    logs: [],
    once: {},
  };
}

/**
 * A workflow run: `running` from the start (it has no handler, no worker and no lease; the
 * engine advances it as its steps end), looked at by the sweeper now and then as a backstop.
 */
export function newWorkflowRun(input: NewRunInput, now: Date): Run {
  const at = now.toISOString();
  const steps = input.replay?.steps ?? input.definition.steps ?? [];
  return {
    tenant: input.tenant,
    id: input.id,
    definition: input.definition.name,
    handler: input.definition.handler,
    params: { ...input.definition.params, ...input.params },
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
    ...provenanceFields(input),
    ...replayFields(input),
    ...(input.trace === undefined ? {} : { trace: input.trace }),
    ...(input.parent === undefined ? {} : { parent: input.parent }),
    // Emitted when the workflow succeeds, like any run's chains.
    ...(input.chains === undefined || input.chains.length === 0 ? {} : { chains: input.chains }),
    kind: "workflow",
    workflowSteps: steps,
    stepStatus: Object.fromEntries(
      steps.map((step) => [
        step.id,
        input.replay?.keptSteps?.[step.id] === undefined ? "pending" : "succeeded",
      ]),
    ),
    timeoutSeconds: input.definition.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS,
    // One attempt, running from the start: a workflow is not retried as a whole (its steps are).
    status: "running",
    attempts: 1,
    maxAttempts: 1,
    createdAt: at,
    updatedAt: at,
    startedAt: at,
    progress: 0,
    createdBy: input.createdBy,
    sweepAt: after(now, WORKFLOW_RECHECK_MS),
    logs: [],
    once: {},
  };
}

/** How often the sweeper re-derives a workflow run from its steps, in case an update was lost. */
export const WORKFLOW_RECHECK_MS = 5 * 60_000;

/** A delayed start fell due: into the queue (with a slot when its definition is limited). */
export function dueQueuedPatch(now: Date, slot: boolean): RunPatch {
  return {
    ...move("scheduled", "queued", now),
    ...(slot ? { slot: true } : {}),
    sweepAt: after(now, RESEND_AFTER_MS),
  };
}

/** A delayed start fell due while its definition's slots were taken: into the waiting line. */
export function dueWaitingPatch(now: Date): RunPatch {
  return move("scheduled", "waiting", now);
}

/** A start (a delayed one falling due, by default) met its definition's full waiting line. */
export function queueFullPatch(
  run: Run,
  now: Date,
  message = `when it fell due, definition "${run.definition}" already had its maxQueueLength of runs waiting`,
): RunPatch {
  return ended(run, "failed", now, { code: "queue_full", message });
}

/** Why a start that nobody waits on (a cron firing) was refused, recorded as a failed run. */
export interface StartRefusal {
  code: "queue_full" | "rate_limited";
  message: string;
}

/** A start recorded as refused: it ends `failed` with the refusal, never having run. */
export function refusedStartPatch(run: Run, now: Date, refusal: StartRefusal): RunPatch {
  return ended(run, "failed", now, refusal);
}

/**
 * A waiting run takes a freed slot and goes to the queue: its definition's slot (a limited
 * definition) and its tenant's (a capped tenant), as `takes` says; by default a definition slot.
 */
export function promotedPatch(
  now: Date,
  takes: { slot: boolean; tenantSlot: boolean } = SLOT_ONLY,
): RunPatch {
  return {
    ...move("waiting", "queued", now),
    ...(takes.slot ? { slot: true } : {}),
    ...(takes.tenantSlot ? { tenantSlot: true, tenantLine: null } : {}),
    sweepAt: after(now, RESEND_AFTER_MS),
  };
}

const SLOT_ONLY = { slot: true, tenantSlot: false } as const;

/**
 * A waiting run changes lines without changing status: into its tenant's line (its definition has
 * room, its tenant has none) or back into its definition's line (the other way round).
 */
export function changeLinePatch(to: "tenant" | "definition", now: Date): RunPatch {
  return { tenantLine: to === "tenant" ? true : null, updatedAt: now.toISOString() };
}

export function deadlineOf(run: Run): number | undefined {
  return run.attemptStartedAt === undefined
    ? undefined
    : Date.parse(run.attemptStartedAt) + run.timeoutSeconds * 1000;
}

export const BACKOFF = { baseMs: 1_000, maxMs: 5 * 60_000 } as const;

/**
 * Exponential backoff with "equal jitter": half the window fixed, half random, so retries of
 * many runs that failed together spread out but none retries immediately.
 */
export function backoffMs(attempt: number, random: () => number, policy = BACKOFF): number {
  const window = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(window / 2 + random() * (window / 2));
}

function secondsUntil(iso: string, now: Date): number {
  return Math.max(0, Math.ceil((Date.parse(iso) - now.getTime()) / 1000));
}

/** A write that ends a run, with the slots or place in line it gives back (limited definitions, capped tenants). */
export interface Ending {
  guard: RunGuard;
  patch: RunPatch;
  counters?: CounterEffect[];
}

/** What a worker does with a message whose run it could not claim. */
export type ClaimMiss =
  | { kind: "ack"; reason: string }
  | { kind: "later"; seconds: number; reason: string }
  | ({ kind: "give_up"; reason: string } & Ending);

/**
 * How long a worker waits for the run of a message sent before its run was written (the engine's
 * `startSentFirst`). A start writes its run straight after the send, or gives up within the
 * API's 30 s; a start whose write took longer than SENT_FIRST_SLOW_MS marks its run for the
 * sweeper, so a message dropped at this age never leaves a run behind that nothing would start.
 */
export const ORPHAN_WAIT_MS = 2 * 60_000;
export const SENT_FIRST_SLOW_MS = 30_000;

export function whenClaimMissed(current: Run | undefined, now: Date, sentAt?: string): ClaimMiss {
  if (current === undefined) return whenRunMissing(now, sentAt);
  if (isTerminal(current.status)) return { kind: "ack", reason: `run already ${current.status}` };
  switch (current.status) {
    case "waiting":
      // Waiting runs have no message of their own; this is a stray duplicate.
      return { kind: "ack", reason: "run is waiting for a slot" };
    case "awaiting":
      return { kind: "ack", reason: "run is awaiting its callback" };
    case "queued":
      // Only a retry still in its backoff is queued and not claimable.
      return {
        kind: "later",
        seconds: Math.max(1, secondsUntil(current.nextAttemptAt ?? now.toISOString(), now)),
        reason: "retry backoff not over",
      };
    case "running": {
      const lease = current.leaseUntil ?? now.toISOString();
      if (Date.parse(lease) > now.getTime()) {
        // A duplicate delivery while a live worker holds the run: never run the handler twice,
        // but keep the message until the lease ends in case that worker dies.
        return {
          kind: "later",
          seconds: Math.max(1, secondsUntil(lease, now)),
          reason: "claimed by a live worker",
        };
      }
      const ending = endAbandoned(current, now);
      return ending === undefined
        ? { kind: "later", seconds: 1, reason: "claimable again" }
        : { kind: "give_up", reason: "worker lost", ...ending };
    }
    default:
      return { kind: "ack", reason: `run already ${current.status}` };
  }
}

/**
 * A message whose run is not there: dropped, unless it was sent before its run was written and is
 * young enough that the write may still land. It is looked at again after as long as it has
 * waited (1, 1, 2, 4, 8, 16, then every 30 s), so a lost start costs about ten receives, well
 * below the run queue's 50 before its dead-letter queue.
 */
function whenRunMissing(now: Date, sentAt: string | undefined): ClaimMiss {
  const age = sentAt === undefined ? Number.NaN : now.getTime() - Date.parse(sentAt);
  if (!(age < ORPHAN_WAIT_MS)) {
    return { kind: "ack", reason: sentAt === undefined ? "run does not exist" : "run never written" };
  }
  return {
    kind: "later",
    seconds: Math.min(30, Math.max(1, Math.ceil(age / 1000))),
    reason: "run not written yet",
  };
}

/** A write that holds only while the run is still in this attempt under this lease (if it has one). */
export function leaseGuard(run: Run): RunGuard {
  return {
    status: "running",
    attempts: run.attempts,
    ...(run.leaseUntil ? { leaseUntil: run.leaseUntil } : {}),
  };
}

/**
 * A running run whose worker stopped renewing its lease, and which may not be tried again: it
 * was asked to cancel, or its attempts are used up. Undefined when it should be retried instead.
 */
export function endAbandoned(run: Run, now: Date): Ending | undefined {
  const guard = leaseGuard(run);
  if (run.cancelRequestedAt !== undefined) {
    return { guard, patch: ended(run, "cancelled", now), ...release(run, now) };
  }
  if (run.attempts < run.maxAttempts) return undefined;
  const deadline = deadlineOf(run);
  const timedOut = deadline !== undefined && deadline <= now.getTime();
  const error: RunError = timedOut
    ? timeoutError(run)
    : {
        code: "worker_lost",
        message: `the worker stopped responding during attempt ${run.attempts} of ${run.maxAttempts}; no attempts left`,
      };
  return {
    guard,
    patch: {
      ...ended(run, timedOut ? "timed_out" : "failed", now, error),
      failedAttempt: attemptRecordOf(run, { outcome: timedOut ? "timed_out" : "worker_lost", error }, now),
    },
    ...release(run, now),
  };
}

/** A running run whose worker vanished but which has attempts left goes back to the queue. */
export function requeueAbandoned(run: Run, now: Date): Ending {
  const error: RunError = {
    code: "worker_lost",
    message: `the worker stopped responding during attempt ${run.attempts}`,
  };
  return {
    guard: leaseGuard(run),
    patch: {
      ...move(run.status, "queued", now),
      leaseUntil: null,
      nextAttemptAt: null,
      sweepAt: after(now, RESEND_AFTER_MS),
      error,
      failedAttempt: attemptRecordOf(run, { outcome: "worker_lost", error }, now),
    },
  };
}

/**
 * A callback-mode handler returned: its output is kept and the run waits for the outside
 * system, still holding its slot, until a final callback or its callback deadline.
 */
export function awaitingPatch(run: Run, output: unknown, now: Date): RunPatch {
  const deadline = after(now, (run.callbackTimeoutSeconds ?? DEFAULT_CALLBACK_TIMEOUT_SECONDS) * 1000);
  return {
    ...move(run.status, "awaiting", now),
    output: output ?? null,
    error: null,
    leaseUntil: null,
    callbackDeadline: deadline,
    sweepAt: deadline,
  };
}

/** An awaiting run whose callback deadline passed. */
export function callbackTimedOutEnding(run: Run, now: Date): Omit<Ending, "guard"> {
  return {
    patch: {
      ...ended(run, "timed_out", now, {
        code: "callback_timed_out",
        message: `no final callback arrived by ${run.callbackDeadline ?? "the deadline"}`,
      }),
      callbackTokenHash: null,
    },
    ...release(run, now),
  };
}

export function succeededPatch(run: Run, output: unknown, now: Date): RunPatch {
  return { ...ended(run, "succeeded", now), output: output ?? null, error: null };
}

export interface ErrorDecision extends Omit<Ending, "guard"> {
  /** Set when the run will be retried: how long until the next attempt. */
  retryInMs?: number;
}

/** A handler threw: retry after backoff while attempts are left, else fail. */
export function afterHandlerError(run: Run, error: unknown, now: Date, random: () => number): ErrorDecision {
  const { retriable, ...runError } = toRunError(error);
  if (!retriable || !RUN_ERRORS[runError.code].retried || run.attempts >= run.maxAttempts) {
    return { patch: ended(run, "failed", now, runError), ...release(run, now) };
  }
  return retryAfter(run, runError, now, random);
}

function retryAfter(run: Run, runError: RunError, now: Date, random: () => number): ErrorDecision {
  const retryInMs = backoffMs(run.attempts, random);
  const nextAttemptAt = after(now, retryInMs);
  return {
    retryInMs,
    // The run keeps its slot through the backoff: it is still one of the definition's runs.
    patch: {
      ...move(run.status, "queued", now),
      nextAttemptAt,
      leaseUntil: null,
      sweepAt: after(new Date(Date.parse(nextAttemptAt)), RESEND_AFTER_MS),
      error: runError,
    },
  };
}

/** A failure that retrying cannot fix (bad output, missing handler). */
export function failedEnding(run: Run, error: RunError, now: Date): Omit<Ending, "guard"> {
  return { patch: ended(run, "failed", now, error), ...release(run, now) };
}

export function timedOutEnding(run: Run, now: Date): Omit<Ending, "guard"> {
  return { patch: ended(run, "timed_out", now, timeoutError(run)), ...release(run, now) };
}

/**
 * An attempt ran past its timeout. Final by default; with `retryOnTimeout` it is retried after
 * backoff like a thrown error while attempts remain, and only the last one ends `timed_out`.
 */
export function afterTimeout(run: Run, now: Date, random: () => number): ErrorDecision {
  if (run.retryOnTimeout !== true || run.attempts >= run.maxAttempts) return timedOutEnding(run, now);
  return retryAfter(run, timeoutError(run), now, random);
}

export function cancelledEnding(run: Run, now: Date): Omit<Ending, "guard"> {
  return { patch: ended(run, "cancelled", now), ...release(run, now) };
}

export function succeededEnding(run: Run, output: unknown, now: Date): Omit<Ending, "guard"> {
  return { patch: succeededPatch(run, output, now), ...release(run, now) };
}

function timeoutError(run: Run): RunError {
  return { code: "timed_out", message: `attempt ${run.attempts} ran longer than ${run.timeoutSeconds} s` };
}

/**
 * Gives back what the run holds: a place in its definition's or its tenant's line, or its
 * definition's slot and its tenant's slot. Decided by what the run records it holds, never by the
 * limits in force now, so a limit set or lifted meanwhile cannot make a counter drift.
 */
export function release(run: Run, now: Date): { counters?: CounterEffect[] } {
  const at = now.toISOString();
  // Its definition's counters are those of the shard it was admitted to (admission-shards.ts).
  const scope = shardScope(run.definition, run.shard);
  if (run.status === "waiting") {
    return {
      counters: [{ definition: run.tenantLine === true ? TENANT_SCOPE : scope, waiting: -1, at }],
    };
  }
  const counters: CounterEffect[] = [];
  if (run.slot === true) counters.push({ definition: scope, running: -1, at });
  if (run.tenantSlot === true) counters.push({ definition: TENANT_SCOPE, running: -1, at });
  return counters.length === 0 ? {} : { counters };
}

const MAX_ERROR_MESSAGE = 2_000;

/**
 * What a handler's error means for the run. A NonRetriableError (also one from another copy of
 * this module, told by its name) ends the run; any other error retries it. Either may name a more
 * precise code (NonRetriableError's `code`, RetriableError's) than `non_retriable`/`handler_error`.
 */
function toRunError(error: unknown): RunError & { retriable: boolean } {
  const nonRetriable =
    error instanceof NonRetriableError || (error instanceof Error && error.name === "NonRetriableError");
  const named =
    error instanceof Error && (error.name === "NonRetriableError" || error.name === "RetriableError")
      ? runErrorCodeOf(error)
      : undefined;
  const message = error instanceof Error ? error.message : String(error);
  // Codes are a closed set: one outside it falls back to the generic code (its text stays in the message).
  const known = named !== undefined && Object.hasOwn(RUN_ERRORS, named) ? (named as RunErrorCode) : undefined;
  return {
    code: known ?? (nonRetriable ? "non_retriable" : "handler_error"),
    message: message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}…` : message,
    retriable: !nonRetriable,
  };
}

function after(now: Date, ms: number): string {
  return new Date(now.getTime() + ms).toISOString();
}

function move(from: RunStatus, to: RunStatus, now: Date): RunPatch {
  if (!canTransition(from, to)) throw new Error(`illegal run transition ${from} → ${to}`);
  return { status: to, updatedAt: now.toISOString() };
}

export function ended(
  run: Run,
  to: "succeeded" | "failed" | "cancelled" | "timed_out",
  now: Date,
  error?: RunError,
): RunPatch {
  return {
    ...move(run.status, to, now),
    endedAt: now.toISOString(),
    leaseUntil: null,
    nextAttemptAt: null,
    sweepAt: null,
    ...(error === undefined ? {} : { error }),
  };
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value ${String(value)}`);
}
