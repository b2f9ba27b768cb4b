import { z } from "zod";

/**
 * Run statuses of this release. Later releases add scheduled, waiting, awaiting, cancelled and
 * timed_out (see docs/DESIGN.md §3); only what the code enforces is listed here.
 */
export const RunStatus = {
  queued: "queued",
  running: "running",
  succeeded: "succeeded",
  failed: "failed",
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];
export const RUN_STATUSES = Object.values(RunStatus) as [RunStatus, ...RunStatus[]];

/**
 * The lifecycle as data: every write names the status it expects, and only these moves exist.
 * running → running is a re-claim after the previous worker's lease ran out (crash, lost host).
 * running → queued is a retry waiting for its backoff.
 */
export const RUN_TRANSITIONS = {
  queued: ["running"],
  running: ["running", "queued", "succeeded", "failed"],
  succeeded: [],
  failed: [],
} as const satisfies Record<RunStatus, readonly RunStatus[]>;

export function canTransition(from: RunStatus, to: RunStatus): boolean {
  return (RUN_TRANSITIONS[from] as readonly RunStatus[]).includes(to);
}

export function isTerminal(status: RunStatus): boolean {
  return RUN_TRANSITIONS[status].length === 0;
}

export const RunError = z.object({ code: z.string(), message: z.string() });
export type RunError = z.infer<typeof RunError>;

export const LogLine = z.object({ at: z.string(), line: z.string() });
export type LogLine = z.infer<typeof LogLine>;

/** A finished `ctx.once` call, kept on the run so later attempts return its result instead of redoing it. */
export const OnceRecord = z.object({
  attempt: z.number().int(),
  at: z.string(),
  result: z.unknown(),
});
export type OnceRecord = z.infer<typeof OnceRecord>;

/** A run of a task definition, as stored. Times are ISO 8601 UTC strings (they sort as text). */
export const Run = z.object({
  tenant: z.string(),
  id: z.string(),
  definition: z.string(),
  handler: z.string(),
  queue: z.string().optional(),
  params: z.record(z.string(), z.unknown()),
  status: z.enum(RUN_STATUSES),
  attempts: z.number().int().nonnegative(),
  maxAttempts: z.number().int().positive(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** The API key that started the run (what chains later call `@UserID@`). */
  createdBy: z.string(),
  startedAt: z.string().optional(),
  endedAt: z.string().optional(),
  leaseUntil: z.string().optional(),
  nextAttemptAt: z.string().optional(),
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

export interface RunRef {
  tenant: string;
  id: string;
}

export function refOf(run: Pick<Run, "tenant" | "id">): RunRef {
  return { tenant: run.tenant, id: run.id };
}
