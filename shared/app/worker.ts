/**
 * One delivery of a run message: claim the run, run its handler for one attempt, record the
 * outcome. Safe under at-least-once delivery: every write is conditional on the claim this
 * attempt holds (status running + attempt number), so a duplicate or stale delivery changes
 * nothing, and anything uncertain leaves the message in the queue to be judged again later.
 */
import { z } from "zod";
import { newCallbackToken } from "../core/callback-token.ts";
import { ValidationError } from "../core/errors.ts";
import {
  afterHandlerError,
  assertNever,
  awaitingPatch,
  cancelledEnding,
  claimSweepAt,
  deadlineOf,
  type Ending,
  failedEnding,
  succeededEnding,
  timedOutEnding,
  whenClaimMissed,
} from "../core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { RunPatch } from "../core/ports.ts";
import { type Run, refOf } from "../core/run.ts";
import { isSealed } from "../core/sealed.ts";
import type { StoredFile, TaskContext, UploadedFile } from "../core/task.ts";
import { AttemptReport } from "./attempt-report.ts";
import { addLogContext } from "./log-context.ts";
import { recordClaim } from "./run-metrics.ts";
import type { Services } from "./services.ts";
import { endRun } from "./tasks.ts";
import { uploadFile, withUploadOutput } from "./uploads.ts";

/** The SQS message body. Versioned so a later format can be told apart. */
export const RunMessageBody = z.object({
  v: z.literal(1),
  tenant: z.string().min(1),
  runId: z.string().min(1),
  timeoutSeconds: z.number().int().positive().optional(),
});
export type RunMessageBody = z.infer<typeof RunMessageBody>;

export interface Delivery {
  messageId: string;
  body: string;
  receiptHandle: string;
}

/** `done`: delete the message. `later`: keep it hidden this long, then deliver it again. */
export type DeliveryResult = { kind: "done" } | { kind: "later"; seconds: number };

const DONE: DeliveryResult = { kind: "done" };
/** When this attempt lost its claim, the message comes back soon and is judged on fresh state. */
const RECHECK_SOON: DeliveryResult = { kind: "later", seconds: 1 };
const ONCE_KEY = /^[A-Za-z0-9:._-]{1,128}$/;
const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** The standard file outputs, over what the handler returned (an object; anything else goes under `result`). */
function withFileOutputs(output: unknown, file: StoredFile | undefined): unknown {
  if (file === undefined) return output;
  const own =
    output === undefined || output === null
      ? {}
      : typeof output === "object" && !Array.isArray(output)
        ? output
        : { result: output };
  return { ...own, FileName: file.name, FileKey: file.key, FileSize: file.size };
}

export async function processDelivery(svc: Services, delivery: Delivery): Promise<DeliveryResult> {
  const parsed = parseRunMessage(delivery.body);
  if (parsed === undefined) {
    // A body we cannot read will never become readable: drop it rather than block its group.
    svc.log.error("dropping unreadable run message", { messageId: delivery.messageId });
    return DONE;
  }
  const ref = { tenant: parsed.tenant, id: parsed.runId };
  const now = svc.clock.now();
  const claim = await svc.runs.claim(ref, {
    now: now.toISOString(),
    leaseUntil: new Date(now.getTime() + svc.worker.leaseSeconds * 1000).toISOString(),
    sweepAt: claimSweepAt(now, LIMITS.maxTimeoutSeconds),
  });
  if (claim.claimed) {
    recordClaim(svc, claim.run);
    addLogContext({ definition: claim.run.definition, attempt: claim.run.attempts });
    return runAttempt(svc, claim.run, delivery);
  }
  if (claim.current !== undefined) addLogContext({ definition: claim.current.definition });

  const miss = whenClaimMissed(claim.current, now);
  switch (miss.kind) {
    case "ack":
      svc.log.debug("message needs no work", { tenant: ref.tenant, taskId: ref.id, reason: miss.reason });
      return DONE;
    case "later":
      svc.log.debug("run not claimable yet", { tenant: ref.tenant, taskId: ref.id, reason: miss.reason });
      return { kind: "later", seconds: miss.seconds };
    case "give_up":
      // If this conditional write loses, someone else already ended the run; either way we are done.
      if (claim.current !== undefined) await endRun(svc, claim.current, miss);
      svc.log.warn("run ended: its worker was lost", {
        tenant: ref.tenant,
        taskId: ref.id,
        status: miss.patch.status,
      });
      return DONE;
    default:
      return assertNever(miss);
  }
}

/** Why an attempt stopped before its handler returned. */
type Interruption = "lost" | "cancelled" | "timed_out";

/** Runs the handler for the attempt this worker just claimed. */
async function runAttempt(svc: Services, run: Run, delivery: Delivery): Promise<DeliveryResult> {
  const ref = refOf(run);
  const progressGuard = { status: "running", attempts: run.attempts, notCancelRequested: true } as const;
  const report = new AttemptReport(run);
  const onceResults = new Map(Object.entries(run.once));
  const abort = new AbortController();
  let interruption: Interruption | undefined;
  const interrupt = (why: Interruption, reason: Error) => {
    interruption ??= why;
    abort.abort(reason);
  };
  const logContext = { tenant: run.tenant, taskId: run.id, attempt: run.attempts };

  // Progress writes are serialized so a slow one cannot land after, and overwrite, a newer one.
  // They also tell the worker that the run was cancelled or taken from it.
  let writes: Promise<unknown> = Promise.resolve();
  const write = (patch: RunPatch): Promise<boolean> => {
    const next = writes.then(async () => {
      if (abort.signal.aborted) return false;
      const updated = await svc.runs.update(ref, progressGuard, {
        ...patch,
        updatedAt: svc.clock.now().toISOString(),
      });
      if (updated !== undefined) return true;
      const current = await svc.runs.get(ref);
      const mine = current?.status === "running" && current.attempts === run.attempts;
      if (mine && current.cancelRequestedAt !== undefined) interrupt("cancelled", new CancelledError());
      else interrupt("lost", new Error("this attempt lost its claim on the run"));
      return false;
    });
    writes = next.catch(() => undefined);
    return next;
  };

  const heartbeatEveryMs = (svc.worker.leaseSeconds * 1000) / 3;
  let lastHeartbeat = Date.now();
  const ticker = setInterval(
    () => {
      const heartbeatDue = Date.now() - lastHeartbeat >= heartbeatEveryMs;
      if (!heartbeatDue && !report.dirty) return;
      const patch: RunPatch = report.dirty ? report.takePatch() : {};
      if (heartbeatDue) {
        lastHeartbeat = Date.now();
        patch.leaseUntil = new Date(svc.clock.now().getTime() + svc.worker.leaseSeconds * 1000).toISOString();
        svc.queue
          .setVisibility(delivery.receiptHandle, svc.worker.leaseSeconds)
          .catch((error: unknown) =>
            svc.log.warn("could not extend message visibility", { ...logContext, error }),
          );
      }
      write(patch).catch((error: unknown) => svc.log.warn("progress write failed", { ...logContext, error }));
    },
    Math.min(svc.worker.flushIntervalMs, heartbeatEveryMs),
  );
  const deadline = deadlineOf(run) ?? Date.now() + run.timeoutSeconds * 1000;
  const timer = setTimeout(
    () => interrupt("timed_out", new TimeoutError(run.timeoutSeconds)),
    Math.max(0, deadline - svc.clock.now().getTime()),
  );

  let callbackToken: string | undefined;
  let lastFile: StoredFile | undefined;
  let lastUpload: UploadedFile | undefined;
  let opened: Record<string, unknown> | undefined;
  const ctx: TaskContext = {
    taskId: run.id,
    tenant: run.tenant,
    definition: run.definition,
    get params() {
      return opened ?? run.params;
    },
    attempt: run.attempts,
    get callbackToken() {
      return callbackToken;
    },
    signal: abort.signal,
    feedback: async (text, options) => report.feedback(String(text), options),
    progress: async (fraction) => report.progress(fraction),
    log: async (line) => {
      // Kept on the run (GET /v1/tasks/{id}) and sent to the function's log, with the run's keys.
      svc.log.info(String(line), { source: "handler" });
      report.log(String(line), svc.clock.now());
    },
    files: {
      put: async (name, body, options = {}) => {
        if (!FILE_NAME.test(name) || name.includes("..")) {
          throw new ValidationError(`file name "${name}" must be 1-128 letters, digits, '.', '_' or '-'`);
        }
        const key = `${run.tenant}/${run.id}/${name}`;
        const { size } = await svc.files.put(key, body, options.contentType ?? "application/octet-stream");
        lastFile = { name, key, size };
        return lastFile;
      },
      upload: async (name, body, { destination }) => {
        lastUpload = await uploadFile(svc, run.tenant, { name, body, destination, signal: abort.signal });
        return lastUpload;
      },
    },
    once: async <T>(key: string, fn: (info: { idempotencyKey: string }) => Promise<T>): Promise<T> => {
      if (!ONCE_KEY.test(key)) throw new ValidationError(`once key "${key}" must match ${ONCE_KEY}`);
      const done = onceResults.get(key);
      if (done !== undefined) return done.result as T;
      const result = toJsonValue(await fn({ idempotencyKey: `${run.tenant}:${run.id}:${key}` }));
      if (jsonBytes(result) > LIMITS.onceResultBytes) {
        throw new ValidationError(`once("${key}") result exceeds ${LIMITS.onceResultBytes} bytes`);
      }
      const record = { attempt: run.attempts, at: svc.clock.now().toISOString(), result };
      if (!(await write({ once: { key, record } }))) throw abort.signal.reason;
      onceResults.set(key, record);
      return result as T;
    },
  };

  // The handler is raced against the abort signal: a timeout or cancel ends the attempt even if
  // the handler ignores its signal (its late result is discarded).
  const aborted = new Promise<never>((_, reject) => {
    abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true });
  });
  aborted.catch(() => undefined); // an abort after the race settled must not be an unhandled rejection
  let outcome: { ok: true; output: unknown } | { ok: false; error: unknown };
  try {
    const attempt = async () => {
      if (run.mode === "callback") {
        // The token is stored before the handler can hand it out, so even an instant callback finds it.
        const { token, hash } = newCallbackToken(run.tenant);
        if (!(await write({ callbackTokenHash: hash }))) throw abort.signal.reason;
        callbackToken = token;
      }
      opened = await openParams(svc, run);
      return execute(svc, run, ctx, opened);
    };
    outcome = { ok: true, output: await Promise.race([attempt(), aborted]) };
  } catch (error) {
    outcome = { ok: false, error };
  } finally {
    clearInterval(ticker);
    clearTimeout(timer);
  }
  await writes;

  const now = svc.clock.now();
  const guard = { status: "running", attempts: run.attempts } as const;
  if (interruption === "lost") {
    svc.log.warn("attempt lost its claim; result discarded", logContext);
    return RECHECK_SOON;
  }
  if (interruption !== undefined) {
    const ending = interruption === "cancelled" ? cancelledEnding(run, now) : timedOutEnding(run, now);
    const ended = await endRun(svc, run, {
      guard,
      ...ending,
      patch: { ...report.takePatch(), ...ending.patch },
    });
    svc.log.info(`attempt ${interruption}`, logContext);
    return ended ? DONE : RECHECK_SOON;
  }

  let ending: Omit<Ending, "guard">;
  let retryInMs: number | undefined;
  if (outcome.ok) {
    const output = checkedOutput(withUploadOutput(withFileOutputs(outcome.output, lastFile), lastUpload));
    if (!output.ok) ending = failedEnding(run, output.error, now);
    else if (run.mode === "callback") ending = { patch: awaitingPatch(run, output.value, now) };
    else ending = succeededEnding(run, output.value, now);
  } else if (outcome.error instanceof PermanentFailure) {
    ending = failedEnding(run, { code: outcome.error.code, message: outcome.error.message }, now);
  } else {
    const decision = afterHandlerError(run, outcome.error, now, svc.random);
    ending = decision;
    retryInMs = decision.retryInMs;
    svc.log.warn("handler failed", { ...logContext, error: outcome.error, retryInMs });
  }
  const recorded = await endRun(svc, run, {
    guard,
    ...ending,
    patch: { ...report.takePatch(), ...ending.patch },
  });
  if (!recorded) {
    svc.log.warn("attempt lost its claim before recording its outcome", logContext);
    return RECHECK_SOON;
  }
  if (retryInMs !== undefined) return { kind: "later", seconds: Math.max(1, Math.ceil(retryInMs / 1000)) };
  return DONE;
}

class CancelledError extends Error {
  constructor() {
    super("the run was cancelled");
    this.name = "CancelledError";
  }
}

class TimeoutError extends Error {
  constructor(seconds: number) {
    super(`the attempt ran longer than its ${seconds} s timeout`);
    this.name = "TimeoutError";
  }
}

/** The run's params with sealed (encrypted) values opened: for the handler only, never stored. */
async function openParams(svc: Services, run: Run): Promise<Record<string, unknown>> {
  const entries = await Promise.all(
    Object.entries(run.params).map(async ([name, value]) => {
      if (!isSealed(value)) return [name, value] as const;
      try {
        return [
          name,
          JSON.parse(await svc.crypto.open(value, { tenant: run.tenant, taskId: run.id, param: name })),
        ] as const;
      } catch (error) {
        throw new PermanentFailure(
          "sealed_param_error",
          `param "${name}" could not be decrypted: ${(error as Error).message}`,
        );
      }
    }),
  );
  return Object.fromEntries(entries);
}

/** The run cannot succeed on any attempt: fail it without retrying. */
class PermanentFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function execute(
  svc: Services,
  run: Run,
  ctx: TaskContext,
  openedParams: Record<string, unknown>,
): Promise<unknown> {
  const handler = svc.registry.get(run.handler);
  if (handler === undefined) {
    throw new PermanentFailure(
      "handler_not_found",
      `handler "${run.handler}" is not registered in this worker`,
    );
  }
  let params: Record<string, unknown>;
  try {
    params = svc.registry.parseParams(run.handler, openedParams);
  } catch (error) {
    throw new PermanentFailure("invalid_params", error instanceof Error ? error.message : String(error));
  }
  return handler.run(ctx, params);
}

type CheckedOutput = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

/** Output must survive JSON (it is stored and served as JSON) and fit the run item. */
function checkedOutput(output: unknown): CheckedOutput {
  let value: unknown;
  try {
    value = toJsonValue(output);
  } catch (error) {
    return { ok: false, error: { code: "invalid_output", message: `output is not JSON: ${String(error)}` } };
  }
  if (jsonBytes(value) > LIMITS.outputBytes) {
    return {
      ok: false,
      error: { code: "output_too_large", message: `output exceeds ${LIMITS.outputBytes} bytes` },
    };
  }
  return { ok: true, value };
}

function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(text);
}

export function parseRunMessage(body: string): RunMessageBody | undefined {
  try {
    const result = RunMessageBody.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
