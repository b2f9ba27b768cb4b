/**
 * Debounce: starts of one definition with the same debounce key (per tenant) inside a window
 * collapse into one run (docs/lifecycle.md "Debounce"). `trailing` (default): the run starts once
 * the window closes, `delayMs` after the last start (no later than `maxDelayMs` after the first),
 * with the last start's params. `leading`: the first start runs at once; the others within
 * `delayMs` of it answer its run.
 */
import { z } from "zod";

/**
 * The longest window. On AWS a trailing window's timer is one message of the SQS delay queue,
 * which holds a message back for at most 15 minutes; a window this short never needs the
 * EventBridge Scheduler, whose one-time schedules cannot be moved.
 */
export const DEBOUNCE_MAX_MS = 15 * 60_000;

export const DEBOUNCE_KEY_PATTERN = /^[A-Za-z0-9_.:/@-]{1,128}$/;

export const DebounceRequest = z
  .strictObject({
    key: z
      .string()
      .regex(
        DEBOUNCE_KEY_PATTERN,
        "must be 1-128 characters of letters, digits and _ . : / @ - (no spaces, no #)",
      ),
    delayMs: z.number().int().min(1).max(DEBOUNCE_MAX_MS, `must be at most ${DEBOUNCE_MAX_MS} (15 minutes)`),
    mode: z.enum(["trailing", "leading"]).optional(),
    maxDelayMs: z
      .number()
      .int()
      .min(1)
      .max(DEBOUNCE_MAX_MS, `must be at most ${DEBOUNCE_MAX_MS} (15 minutes)`)
      .optional(),
  })
  .refine((d) => d.maxDelayMs === undefined || d.maxDelayMs >= d.delayMs, {
    message: "maxDelayMs must be at least delayMs",
    path: ["maxDelayMs"],
  })
  .refine((d) => d.maxDelayMs === undefined || d.mode !== "leading", {
    message:
      'maxDelayMs applies to "trailing" debounce only: a leading window is delayMs from its first start',
    path: ["maxDelayMs"],
  });
export type DebounceRequest = z.infer<typeof DebounceRequest>;

export type DebounceMode = "trailing" | "leading";

/** An open window of (tenant, definition, key): the run its starts collapse into. */
export interface DebounceRecord {
  tenant: string;
  definition: string;
  key: string;
  runId: string;
  mode: DebounceMode;
  delayMs: number;
  /**
   * trailing: the latest its run may start (first start + maxDelayMs, else + DEBOUNCE_MAX_MS);
   * leading: when the window closes (first start + delayMs).
   */
  closesAt: string;
  /** Epoch seconds; DynamoDB's TTL removes the record some time after (a day past closesAt). */
  expiresAt: number;
}

/** The record a start that opens a window writes. */
export function openWindow(
  tenant: string,
  definition: string,
  request: DebounceRequest,
  runId: string,
  now: Date,
): DebounceRecord {
  const mode = request.mode ?? "trailing";
  const span = mode === "leading" ? request.delayMs : (request.maxDelayMs ?? DEBOUNCE_MAX_MS);
  const closesAt = new Date(now.getTime() + span);
  return {
    tenant,
    definition,
    key: request.key,
    runId,
    mode,
    delayMs: request.delayMs,
    closesAt: closesAt.toISOString(),
    expiresAt: Math.floor(closesAt.getTime() / 1000) + 24 * 60 * 60,
  };
}

/** When a trailing window's run is due after a start at `now`: delayMs on, capped at closesAt. */
export function trailingDue(record: Pick<DebounceRecord, "delayMs" | "closesAt">, now: Date): Date {
  return new Date(Math.min(now.getTime() + record.delayMs, Date.parse(record.closesAt)));
}
