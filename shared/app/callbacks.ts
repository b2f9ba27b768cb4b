/** Callbacks from outside systems to awaiting runs, and subtext updates. */

import { ConflictError, NotFoundError, PayloadTooLargeError, UnauthorizedError } from "../core/errors.ts";
import { callbackTimedOutEnding, ended, release } from "../core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { RunPatch } from "../core/ports.ts";
import type { Run } from "../core/run.ts";
import { appendLogLines } from "../core/run-logs.ts";
import { hashKey, sameHash } from "../core/tenant.ts";
import { endRun } from "./engine.ts";
import { addLogContext } from "./log-context.ts";
import type { Services } from "./services.ts";

export interface CallbackInput {
  taskId: string;
  /** Absent: a progress callback (logs, output, subtext); the run keeps awaiting. */
  status?: "SUCCESS" | "FAILURE";
  /** A string is split on newlines; an array gives one line per entry. */
  logs?: string | string[];
  output?: Record<string, unknown>;
  subtext?: string;
}

/**
 * One answer for every refused token, so it tells nothing about the run (whether it exists, its
 * status), yet says what a caller with a once-good token most likely did: use it twice.
 */
const TOKEN_REFUSED =
  "the callback token is not valid for this task: it was never issued for it, or it is spent (a final callback spends it, and it lapses when the run stops awaiting)";

/** Who sent the callback: a tenant's runner key, or the run's own callback token. */
export type CallbackCaller =
  | { kind: "key"; tenant: string }
  | { kind: "token"; tenant: string; token: string };

/**
 * Applies a callback to an awaiting run. Logs are stamped with the time the callback arrived;
 * `output` is merged over the run's own output (callback keys win); `subtext` replaces the run's.
 * A final status ends the run and spends its token; of two racing final callbacks exactly one
 * wins, and anything sent with a key to a run that is not awaiting is a 409 that changes nothing
 * (with a token, a 401).
 */
export async function applyCallback(
  svc: Services,
  caller: CallbackCaller,
  input: CallbackInput,
): Promise<Run> {
  const receivedAt = svc.clock.now();
  const ref = { tenant: caller.tenant, id: input.taskId };
  addLogContext({ tenant: ref.tenant, taskId: ref.id });
  for (let round = 0; round < 5; round += 1) {
    const run = await svc.runs.get(ref);
    if (run === undefined) {
      if (caller.kind === "token") throw new UnauthorizedError(TOKEN_REFUSED);
      throw new NotFoundError(`task "${input.taskId}" does not exist`);
    }
    if (caller.kind === "token") {
      // A token is good while its run awaits, once: the final callback clears its hash. A used
      // or stale token learns nothing about the run, not even its status.
      const presented = hashKey(caller.token);
      if (
        run.callbackTokenHash === undefined ||
        !sameHash(presented, run.callbackTokenHash) ||
        run.status !== "awaiting"
      ) {
        throw new UnauthorizedError(TOKEN_REFUSED);
      }
    }
    if (run.status !== "awaiting") {
      throw new ConflictError(
        `task "${run.id}" is ${run.status}, not awaiting a callback; nothing was changed`,
      );
    }
    const now = svc.clock.now();
    if (run.callbackDeadline !== undefined && Date.parse(run.callbackDeadline) <= now.getTime()) {
      await endRun(svc, run, {
        guard: { status: "awaiting", attempts: run.attempts },
        ...callbackTimedOutEnding(run, now),
      });
      throw new ConflictError(`task "${run.id}" stopped awaiting at ${run.callbackDeadline}; it timed out`);
    }

    const patch = callbackPatch(run, input, receivedAt, now);
    const guard = { status: "awaiting", attempts: run.attempts, updatedAt: run.updatedAt } as const;
    if (input.status === undefined) {
      const updated = await svc.runs.update(run, guard, patch);
      if (updated !== undefined) {
        await rollUpSubtext(svc, run, input.subtext);
        return updated;
      }
      continue; // changed meanwhile (another callback): read again
    }
    // The token is spent in the same write that ends the run: a replay of it gets 401.
    const final: RunPatch =
      input.status === "SUCCESS"
        ? { ...patch, ...ended(run, "succeeded", now), error: null, callbackTokenHash: null }
        : {
            ...patch,
            ...ended(run, "failed", now, {
              code: "callback_failure",
              message: input.subtext ?? "the outside system reported FAILURE",
            }),
            callbackTokenHash: null,
          };
    if (await endRun(svc, run, { guard, patch: final, ...release(run, now) })) {
      await rollUpSubtext(svc, run, input.subtext);
      return (await svc.runs.get(ref)) ?? run;
    }
  }
  throw new ConflictError(`task "${input.taskId}" keeps changing; send the callback again`);
}

function callbackPatch(run: Run, input: CallbackInput, receivedAt: Date, now: Date): RunPatch {
  const patch: RunPatch = { updatedAt: now.toISOString() };
  if (input.logs !== undefined) {
    const lines =
      typeof input.logs === "string" ? input.logs.replace(/\r?\n$/, "").split(/\r?\n/) : input.logs;
    const { logs, dropped } = appendLogLines(run.logs, run.logsDropped ?? 0, lines, receivedAt);
    patch.logs = logs;
    if (dropped > 0) patch.logsDropped = dropped;
  }
  if (input.output !== undefined) {
    const own = isPlainObject(run.output) ? run.output : {};
    const output = { ...own, ...input.output };
    if (jsonBytes(output) > LIMITS.outputBytes) {
      throw new PayloadTooLargeError(`the merged output would exceed ${LIMITS.outputBytes} bytes`);
    }
    patch.output = output;
  }
  if (input.subtext !== undefined) patch.subtext = input.subtext;
  return patch;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A step's subtext is also its workflow run's: the line people watch on the whole. */
async function rollUpSubtext(svc: Services, run: Run, subtext: string | undefined): Promise<void> {
  if (subtext === undefined || run.parent === undefined) return;
  await setSubtext(svc, run.tenant, run.parent.id, subtext);
}

/** Sets a run's subtext, whatever its status (a note for people watching it), and its workflow run's. */
export async function setSubtext(svc: Services, tenant: string, id: string, subtext: string): Promise<Run> {
  for (let round = 0; round < 5; round += 1) {
    const run = await svc.runs.get({ tenant, id });
    if (run === undefined) throw new NotFoundError(`task "${id}" does not exist`);
    // Only the subtext is written, so nothing read can be lost: guard on status alone.
    const updated = await svc.runs.update(
      run,
      { status: run.status, attempts: run.attempts },
      { subtext, updatedAt: svc.clock.now().toISOString() },
    );
    if (updated !== undefined) {
      await rollUpSubtext(svc, updated, subtext);
      return updated;
    }
  }
  throw new ConflictError(`task "${id}" keeps changing; send the subtext again`);
}
