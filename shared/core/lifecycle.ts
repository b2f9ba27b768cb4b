/**
 * The run lifecycle as pure functions: given a run and the time, what to write next. No I/O, no
 * clock of its own; the worker use case (shared/app/worker.ts) applies these with conditional
 * writes, so a decision made on stale data simply fails to apply.
 */
import type { TaskDefinition } from "./definition.ts";
import { NonRetriableError } from "./errors.ts";
import type { RunGuard, RunPatch } from "./ports.ts";
import { canTransition, isTerminal, type Run, type RunError, type RunStatus } from "./run.ts";

export interface NewRunInput {
  tenant: string;
  id: string;
  definition: TaskDefinition;
  params: Record<string, unknown>;
  queue?: string;
  createdBy: string;
}

/** A new run, its params the definition's defaults with the start's params over them (a snapshot). */
export function newRun(input: NewRunInput, now: Date): Run {
  const at = now.toISOString();
  return {
    tenant: input.tenant,
    id: input.id,
    definition: input.definition.name,
    handler: input.definition.handler,
    ...(input.queue === undefined ? {} : { queue: input.queue }),
    params: { ...input.definition.params, ...input.params },
    status: "queued",
    attempts: 0,
    maxAttempts: input.definition.maxAttempts,
    createdAt: at,
    updatedAt: at,
    createdBy: input.createdBy,
    logs: [],
    once: {},
  };
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

export function secondsUntil(iso: string, now: Date): number {
  return Math.max(0, Math.ceil((Date.parse(iso) - now.getTime()) / 1000));
}

/** What a worker does with a message whose run it could not claim. */
export type ClaimMiss =
  | { kind: "ack"; reason: string }
  | { kind: "later"; seconds: number; reason: string }
  | { kind: "give_up"; guard: RunGuard; patch: RunPatch };

export function whenClaimMissed(current: Run | undefined, now: Date): ClaimMiss {
  if (current === undefined) return { kind: "ack", reason: "run does not exist" };
  if (isTerminal(current.status)) return { kind: "ack", reason: `run already ${current.status}` };
  switch (current.status) {
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
      // The lease ran out and no attempts are left (else the claim would have taken it).
      return {
        kind: "give_up",
        guard: { status: "running", attempts: current.attempts, leaseUntil: lease },
        patch: ended(current.status, "failed", now, {
          code: "worker_lost",
          message: `the worker stopped responding during attempt ${current.attempts} of ${current.maxAttempts}; no attempts left`,
        }),
      };
    }
    case "succeeded":
    case "failed":
      return { kind: "ack", reason: `run already ${current.status}` };
    default:
      return assertNever(current.status);
  }
}

export function succeededPatch(run: Run, output: unknown, now: Date): RunPatch {
  return { ...ended(run.status, "succeeded", now), output: output ?? null, error: null };
}

export interface ErrorDecision {
  patch: RunPatch;
  /** Set when the run will be retried: how long until the next attempt. */
  retryInMs?: number;
}

/** A handler threw: retry after backoff while attempts are left, else fail. */
export function afterHandlerError(run: Run, error: unknown, now: Date, random: () => number): ErrorDecision {
  const runError = toRunError(error);
  if (runError.code === "non_retriable" || run.attempts >= run.maxAttempts) {
    return { patch: ended(run.status, "failed", now, runError) };
  }
  const retryInMs = backoffMs(run.attempts, random);
  return {
    retryInMs,
    patch: {
      ...move(run.status, "queued", now),
      nextAttemptAt: new Date(now.getTime() + retryInMs).toISOString(),
      leaseUntil: null,
      error: runError,
    },
  };
}

/** A failure that retrying cannot fix (bad output, missing handler). */
export function failedPatch(run: Run, error: RunError, now: Date): RunPatch {
  return ended(run.status, "failed", now, error);
}

const MAX_ERROR_MESSAGE = 2_000;

export function toRunError(error: unknown): RunError {
  const nonRetriable =
    error instanceof NonRetriableError || (error instanceof Error && error.name === "NonRetriableError");
  const message = error instanceof Error ? error.message : String(error);
  return {
    code: nonRetriable ? "non_retriable" : "handler_error",
    message: message.length > MAX_ERROR_MESSAGE ? `${message.slice(0, MAX_ERROR_MESSAGE)}…` : message,
  };
}

function move(from: RunStatus, to: RunStatus, now: Date): RunPatch {
  if (!canTransition(from, to)) throw new Error(`illegal run transition ${from} → ${to}`);
  return { status: to, updatedAt: now.toISOString() };
}

function ended(from: RunStatus, to: "succeeded" | "failed", now: Date, error?: RunError): RunPatch {
  return {
    ...move(from, to, now),
    endedAt: now.toISOString(),
    leaseUntil: null,
    nextAttemptAt: null,
    ...(error === undefined ? {} : { error }),
  };
}

export function assertNever(value: never): never {
  throw new Error(`unexpected value ${String(value)}`);
}
