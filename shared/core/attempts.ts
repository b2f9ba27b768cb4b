/**
 * A run's attempts, one by one. Only an attempt that did not succeed leaves a record of its own
 * (an AttemptRecord, written beside the run in the write that records its outcome): that is the
 * rare path, and it carries what the run's own fields cannot (each retried attempt's error and
 * the handler's stack trace). The last attempt of a run that succeeded, is running, awaits its
 * callback or was cancelled is derived from the run itself, so the plain path writes nothing more.
 */
import { z } from "zod";
import type { Run } from "./run.ts";
import { RunErrorCode } from "./run-errors.ts";

/** A stack trace is cut to this many frames ("    at …" lines) … */
export const ATTEMPT_STACK_FRAMES = 50;
/** … and to this many bytes (UTF-8), whichever is shorter. */
export const ATTEMPT_STACK_BYTES = 4 * 1024;
/** An error's name (its class) is cut to this many characters. */
const ERROR_NAME_CHARS = 100;

export const AttemptError = z.object({
  code: RunErrorCode,
  /** The thrown error's name (its class), when the handler threw an Error. */
  name: z.string().optional(),
  message: z.string(),
  /** The handler's own stack trace, bounded (ATTEMPT_STACK_FRAMES, ATTEMPT_STACK_BYTES). */
  stack: z.string().optional(),
});
export type AttemptError = z.infer<typeof AttemptError>;

/** How an attempt that has a record of its own ended. */
export const RECORDED_OUTCOMES = ["failed", "timed_out", "worker_lost"] as const;

/** One attempt that did not succeed, as stored beside its run. */
export const AttemptRecord = z.object({
  attempt: z.number().int().positive(),
  startedAt: z.string().optional(),
  endedAt: z.string(),
  outcome: z.enum(RECORDED_OUTCOMES),
  error: AttemptError,
});
export type AttemptRecord = z.infer<typeof AttemptRecord>;

/** Every way an attempt is shown: the recorded outcomes and those derived from the run. */
export const ATTEMPT_OUTCOMES = [
  "running",
  "succeeded",
  "cancelled",
  "failed",
  "timed_out",
  "worker_lost",
] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** One attempt as a run's page shows it. */
export interface Attempt {
  attempt: number;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number | null;
  outcome: AttemptOutcome;
  error: AttemptError | null;
}

/** The attempt as one may show it outside the tenant's own keys: its error without the stack trace. */
export function withoutStack(attempt: Attempt): Attempt {
  if (attempt.error?.stack === undefined) return attempt;
  const { stack: _stack, ...error } = attempt.error;
  return { ...attempt, error };
}

/** What stands in for the frames of Baton's own worker below the handler (see boundedStack). */
export const WORKER_FRAMES = "    at … (Baton's worker)";

/**
 * The stack trace of an error the handler threw, bounded: at most ATTEMPT_STACK_FRAMES frames and
 * ATTEMPT_STACK_BYTES bytes, cut at a line, saying how much was cut. Only `error.stack` itself is
 * read (never `cause` or any other property), so nothing else the error holds is kept. With
 * `workerFrame`, the frames from the first that names it on (the worker that called the handler,
 * and what called it) are one line: they are Baton's, the same for every run.
 */
export function boundedStack(error: unknown, workerFrame?: string): string | undefined {
  if (!(error instanceof Error) || typeof error.stack !== "string" || error.stack === "") return undefined;
  let lines = error.stack.split("\n");
  const below =
    workerFrame === undefined
      ? -1
      : lines.findIndex((line) => /^\s+at /.test(line) && line.includes(workerFrame));
  if (below >= 0) lines = [...lines.slice(0, below), WORKER_FRAMES];
  const kept: string[] = [];
  let frames = 0;
  let bytes = 0;
  let cut = 0;
  for (const line of lines) {
    const isFrame = /^\s+at /.test(line);
    const size = Buffer.byteLength(line, "utf8") + 1;
    if ((isFrame && frames >= ATTEMPT_STACK_FRAMES) || bytes + size > ATTEMPT_STACK_BYTES - 40) {
      cut += 1;
      continue;
    }
    if (isFrame) frames += 1;
    kept.push(line);
    bytes += size;
  }
  if (kept.length === 0) return undefined;
  return cut === 0 ? kept.join("\n") : `${kept.join("\n")}\n    … ${cut} more lines`;
}

/** The name of a thrown Error (its class), bounded; undefined for anything else. */
export function errorNameOf(error: unknown): string | undefined {
  if (!(error instanceof Error) || typeof error.name !== "string" || error.name === "") return undefined;
  return error.name.slice(0, ERROR_NAME_CHARS);
}

/**
 * The record of the attempt `run` is in, ended by `patch` with its error. `thrown` is what the
 * handler threw, when it did (its name and stack are kept); Baton's own refusals (a missing
 * handler, bad params, output too large) and timeouts have no stack worth showing.
 */
export function attemptRecordOf(
  run: Pick<Run, "attempts" | "attemptStartedAt">,
  ending: { outcome: AttemptRecord["outcome"]; error: { code: RunErrorCode; message: string } },
  now: Date,
  thrown?: unknown,
  workerFrame?: string,
): AttemptRecord {
  const name = thrown === undefined ? undefined : errorNameOf(thrown);
  const stack = thrown === undefined ? undefined : boundedStack(thrown, workerFrame);
  return {
    attempt: Math.max(1, run.attempts),
    ...(run.attemptStartedAt === undefined ? {} : { startedAt: run.attemptStartedAt }),
    endedAt: now.toISOString(),
    outcome: ending.outcome,
    error: {
      code: ending.error.code,
      ...(name === undefined ? {} : { name }),
      message: ending.error.message,
      ...(stack === undefined ? {} : { stack }),
    },
  };
}

function durationOf(startedAt: string | null, endedAt: string | null): number | null {
  if (startedAt === null || endedAt === null) return null;
  const ms = Date.parse(endedAt) - Date.parse(startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms : null;
}

function shown(record: AttemptRecord): Attempt {
  const startedAt = record.startedAt ?? null;
  return {
    attempt: record.attempt,
    startedAt,
    endedAt: record.endedAt,
    durationMs: durationOf(startedAt, record.endedAt),
    outcome: record.outcome,
    error: record.error,
  };
}

/** When a callback-mode run's handler returned: its callback deadline less its callback timeout. */
function handlerReturnedAt(run: Run): string | null {
  if (run.callbackDeadline === undefined || run.callbackTimeoutSeconds === undefined) return null;
  const at = Date.parse(run.callbackDeadline) - run.callbackTimeoutSeconds * 1000;
  return Number.isFinite(at) ? new Date(at).toISOString() : null;
}

/** The run's last attempt, from its own fields, when no record says how it ended. */
function lastAttemptOf(run: Run): Attempt | undefined {
  if (run.attempts === 0 || run.kind === "workflow") return undefined;
  const startedAt = run.attemptStartedAt ?? (run.attempts === 1 ? (run.startedAt ?? null) : null);
  const make = (outcome: AttemptOutcome, endedAt: string | null, error: AttemptError | null): Attempt => ({
    attempt: run.attempts,
    startedAt,
    endedAt,
    durationMs: durationOf(startedAt, endedAt),
    outcome,
    error,
  });
  switch (run.status) {
    case "running":
      return make("running", null, null);
    case "awaiting":
      return make("succeeded", handlerReturnedAt(run), null);
    case "succeeded":
      return make(
        "succeeded",
        run.mode === "callback" ? handlerReturnedAt(run) : (run.endedAt ?? null),
        null,
      );
    case "cancelled":
      return make("cancelled", run.endedAt ?? null, null);
    case "failed":
    case "timed_out":
      // Ended by its callback (or its deadline): the handler's attempt itself had succeeded.
      if (run.error === undefined || run.error.code.startsWith("callback_"))
        return make("succeeded", handlerReturnedAt(run), null);
      // A run recorded before attempt records existed: only its error, without a stack.
      return make(run.status, run.endedAt ?? null, run.error);
    default:
      // Queued for a retry: its last attempt has a record (or, stored before records, only the run's error).
      return run.error === undefined
        ? undefined
        : make("failed", run.nextAttemptAt === undefined ? null : run.updatedAt, run.error);
  }
}

/**
 * Every attempt of the run, oldest first: its records, and its last attempt from its own fields
 * when no record covers it. Records of attempts above the run's count (a stale write) are left out.
 */
export function attemptHistoryOf(run: Run, records: readonly AttemptRecord[]): Attempt[] {
  const byNumber = new Map<number, AttemptRecord>();
  for (const record of records) if (record.attempt <= run.attempts) byNumber.set(record.attempt, record);
  const attempts = [...byNumber.values()].sort((a, b) => a.attempt - b.attempt).map(shown);
  if (!byNumber.has(run.attempts)) {
    const last = lastAttemptOf(run);
    if (last !== undefined) attempts.push(last);
  }
  return attempts;
}

/** Whether a run may have attempt records worth reading (a plain one-attempt success has none). */
export function mayHaveAttemptRecords(run: Run): boolean {
  return run.kind !== "workflow" && (run.attempts > 1 || run.error !== undefined);
}
