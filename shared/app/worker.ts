/**
 * One delivery of a run message: claim the run, run its handler for one attempt, record the
 * outcome. Safe under at-least-once delivery: every write is conditional on the claim this
 * attempt holds (status running + attempt number), so a duplicate or stale delivery changes
 * nothing, and anything uncertain leaves the message in the queue to be judged again later.
 */

import { SpanKind } from "@opentelemetry/api";
import { z } from "zod";
import { type AttemptRecord, attemptRecordOf } from "../core/attempts.ts";
import { newCallbackToken } from "../core/callback-token.ts";
import {
  afterHandlerError,
  afterTimeout,
  assertNever,
  awaitingPatch,
  cancelledEnding,
  type ErrorDecision,
  failedEnding,
  succeededEnding,
  whenClaimMissed,
} from "../core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { ClaimResult, RunMessage, RunReceipt } from "../core/ports.ts";
import type { Run, RunRef } from "../core/run.ts";
import type { RunError, RunErrorCode } from "../core/run-errors.ts";
import { isSealed } from "../core/sealed.ts";
import type { TaskContext } from "../core/task.ts";
import { AttemptLease } from "./attempt-lease.ts";
import { AttemptReport } from "./attempt-report.ts";
import { processBulkPage } from "./bulk.ts";
import { parseBulkPageMessage } from "./bulk-message.ts";
import { endRun } from "./engine.ts";
import { addLogContext } from "./log-context.ts";
import { recordClaim } from "./run-metrics.ts";
import type { Services } from "./services.ts";
import { withStandardOutputs } from "./standard-outputs.ts";
import { type AttemptState, taskContext, toJsonValue } from "./task-context.ts";
import { contextOfTraceparent, inSpan, recordPastSpan } from "./tracing.ts";

/** The SQS message body. Versioned so a later format can be told apart. */
export const RunMessageBody = z.object({
  v: z.literal(1),
  tenant: z.string().min(1),
  runId: z.string().min(1),
  timeoutSeconds: z.number().int().positive().optional(),
  trace: z.string().max(128).optional(),
  sentAt: z.iso.datetime().optional(),
});
export type RunMessageBody = z.infer<typeof RunMessageBody>;

/** The body both queue adapters send: ids, the attempt bound and the trace context, nothing else. */
export function runMessageBody(message: RunMessage): RunMessageBody {
  return {
    v: 1,
    tenant: message.tenant,
    runId: message.runId,
    ...(message.timeoutSeconds === undefined ? {} : { timeoutSeconds: message.timeoutSeconds }),
    ...(message.trace === undefined ? {} : { trace: message.trace }),
    ...(message.sentAt === undefined ? {} : { sentAt: message.sentAt }),
  };
}

export interface Delivery {
  messageId: string;
  body: string;
  receipt: RunReceipt;
}

/** `done`: delete the message. `later`: keep it hidden this long, then deliver it again. */
export type DeliveryResult = { kind: "done" } | { kind: "later"; seconds: number };

const DONE: DeliveryResult = { kind: "done" };
/** When this attempt lost its claim, the message comes back soon and is judged on fresh state. */
const RECHECK_SOON: DeliveryResult = { kind: "later", seconds: 1 };

export async function processDelivery(svc: Services, delivery: Delivery): Promise<DeliveryResult> {
  // A bulk's page message shares the fair queue with run messages (shared/app/bulk.ts).
  const bulkPage = parseBulkPageMessage(delivery.body);
  if (bulkPage !== undefined) return processBulkPage(svc, bulkPage);
  const parsed = parseRunMessage(delivery.body);
  if (parsed === undefined) {
    // A body we cannot read will never become readable: drop it rather than block its group.
    svc.log.error("dropping unreadable run message", { messageId: delivery.messageId });
    return DONE;
  }
  const ref = { tenant: parsed.tenant, id: parsed.runId };
  let now = svc.clock.now();
  let claim = await claimRun(svc, ref, now);
  if (!claim.claimed && claim.current === undefined && (await runAppears(svc, ref, parsed.sentAt))) {
    now = svc.clock.now();
    claim = await claimRun(svc, ref, now);
  }
  if (claim.claimed) {
    recordClaim(svc, claim.run);
    addLogContext({ definition: claim.run.definition, attempt: claim.run.attempts });
    return tracedAttempt(svc, claim.run, delivery, parsed.trace);
  }
  if (claim.current !== undefined) addLogContext({ definition: claim.current.definition });

  const miss = whenClaimMissed(claim.current, now, parsed.sentAt);
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

function claimRun(svc: Services, ref: RunRef, now: Date): Promise<ClaimResult> {
  return svc.runs.claim(ref, {
    now: now.toISOString(),
    leaseUntil: new Date(now.getTime() + svc.worker.leaseSeconds * 1000).toISOString(),
  });
}

/** How long, and how often, a worker looks for the run of a message it got before the run's write. */
const FRESH_MESSAGE_MS = 2_000;
const APPEAR_POLLS_MS = [20, 40, 80, 160, 320];

/**
 * A message sent before its run was written (engine.ts, `startSentFirst`) can reach a worker
 * first. While it is fresh, wait here for the write (a read each time, not a refused claim)
 * rather than hand the message back for a second, and hold the run up by that second.
 */
async function runAppears(svc: Services, ref: RunRef, sentAt: string | undefined): Promise<boolean> {
  if (sentAt === undefined || svc.clock.now().getTime() - Date.parse(sentAt) > FRESH_MESSAGE_MS) return false;
  for (const ms of APPEAR_POLLS_MS) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if ((await svc.runs.get(ref)) !== undefined) return true;
  }
  return false;
}

/**
 * The attempt in its trace: the first attempt records the run's wait in its queue, and every
 * attempt is a span of the start's trace, active while the handler runs (so its own spans, and the
 * runs it or its chains start, join the trace).
 */
function tracedAttempt(
  svc: Services,
  run: Run,
  delivery: Delivery,
  messageTrace: string | undefined,
): Promise<DeliveryResult> {
  const parent = contextOfTraceparent(run.trace ?? messageTrace);
  const attributes = {
    taskId: run.id,
    tenant: run.tenant,
    definition: run.definition,
    attempt: run.attempts,
  };
  if (run.attempts === 1 && run.startedAt !== undefined) {
    // A delayed start waited in the queue from its due time, any other run from its creation.
    const queuedAt =
      run.scheduledFor !== undefined && run.scheduledFor > run.createdAt ? run.scheduledFor : run.createdAt;
    recordPastSpan("baton.queue", {
      kind: SpanKind.INTERNAL,
      attributes,
      parent,
      start: new Date(queuedAt),
      end: new Date(run.startedAt),
    });
  }
  return inSpan("baton.attempt", { kind: SpanKind.CONSUMER, attributes, parent }, async (span) => {
    const result = await runAttempt(svc, run, delivery);
    span.setAttribute("outcome", result.kind === "done" ? "done" : "later");
    return result;
  });
}

/** Runs the handler for the attempt this worker just claimed, and records how it ended. */
async function runAttempt(svc: Services, run: Run, delivery: Delivery): Promise<DeliveryResult> {
  const report = new AttemptReport(run);
  const lease = new AttemptLease(svc, run, report, delivery.receipt);
  const state: AttemptState = {};
  const ctx = taskContext(svc, run, lease, report, state);
  lease.start();

  // The handler is raced against the abort signal: a timeout or cancel ends the attempt even if
  // the handler ignores its signal (its late result is discarded).
  const aborted = new Promise<never>((_, reject) => {
    lease.signal.addEventListener("abort", () => reject(lease.signal.reason), { once: true });
  });
  aborted.catch(() => undefined); // an abort after the race settled must not be an unhandled rejection
  let outcome: HandlerOutcome;
  try {
    const attempt = async () => {
      if (run.mode === "callback") {
        // The token is stored before the handler can hand it out, so even an instant callback finds it.
        const { token, hash } = newCallbackToken(run.tenant);
        if (!(await lease.write({ callbackTokenHash: hash }))) throw lease.signal.reason;
        state.callbackToken = token;
      }
      state.openedParams = await openParams(svc, run);
      return runHandler(svc, run, ctx, state.openedParams);
    };
    outcome = { ok: true, output: await Promise.race([attempt(), aborted]) };
  } catch (error) {
    outcome = { ok: false, error };
  } finally {
    await lease.stop();
  }

  if (lease.interruption === "lost") {
    svc.log.warn("attempt lost its claim; result discarded");
    return RECHECK_SOON;
  }
  const decision = attemptEnding(svc, run, lease.interruption, outcome, state);
  const failedAttempt = failedAttemptOf(run, lease.interruption, outcome, decision, svc.clock.now());
  const recorded = await endRun(svc, run, {
    guard: { status: "running", attempts: run.attempts },
    ...decision,
    patch: {
      ...report.takePatch(),
      ...decision.patch,
      ...(failedAttempt === undefined ? {} : { failedAttempt }),
    },
  });
  if (!recorded) {
    svc.log.warn("attempt lost its claim before recording its outcome");
    return RECHECK_SOON;
  }
  if (decision.retryInMs !== undefined) {
    return { kind: "later", seconds: Math.max(1, Math.ceil(decision.retryInMs / 1000)) };
  }
  return DONE;
}

type HandlerOutcome = { ok: true; output: unknown } | { ok: false; error: unknown };

/** What the attempt's end writes: from how it stopped, or else from what its handler did. */
function attemptEnding(
  svc: Services,
  run: Run,
  interruption: "cancelled" | "timed_out" | undefined,
  outcome: HandlerOutcome,
  state: AttemptState,
): ErrorDecision {
  const now = svc.clock.now();
  if (interruption === "cancelled") {
    svc.log.info("attempt cancelled");
    return cancelledEnding(run, now);
  }
  if (interruption === "timed_out") {
    const decision = afterTimeout(run, now, svc.random);
    svc.log.info(
      "attempt timed_out",
      decision.retryInMs === undefined ? {} : { retryInMs: decision.retryInMs },
    );
    return decision;
  }
  if (outcome.ok) {
    const output = checkedOutput(
      withStandardOutputs(outcome.output, { stored: state.lastFile, uploaded: state.lastUpload }),
    );
    if (!output.ok) return failedEnding(run, output.error, now);
    if (run.mode === "callback") return { patch: awaitingPatch(run, output.value, now) };
    return succeededEnding(run, output.value, now);
  }
  if (outcome.error instanceof PermanentFailure) {
    return failedEnding(run, { code: outcome.error.code, message: outcome.error.message }, now);
  }
  const decision = afterHandlerError(run, outcome.error, now, svc.random);
  svc.log.warn("handler failed", { error: outcome.error, retryInMs: decision.retryInMs });
  return decision;
}

/**
 * The record of an attempt that did not succeed (core/attempts.ts), written in the same write as
 * its outcome; undefined for a success, an awaiting handoff or a cancel. The stack is kept only
 * when this run's handler threw (not for Baton's own refusals or a timeout).
 */
function failedAttemptOf(
  run: Run,
  interruption: "cancelled" | "timed_out" | undefined,
  outcome: HandlerOutcome,
  decision: ErrorDecision,
  now: Date,
): AttemptRecord | undefined {
  const error = decision.patch.error;
  if (error === undefined || error === null || interruption === "cancelled") return undefined;
  const thrownByHandler =
    interruption === undefined && !outcome.ok && !(outcome.error instanceof PermanentFailure)
      ? outcome.error
      : undefined;
  return attemptRecordOf(
    run,
    { outcome: interruption === "timed_out" ? "timed_out" : "failed", error },
    now,
    thrownByHandler,
    HANDLER_CALLER,
  );
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

/** runHandler's frame in a stack trace (`at runHandler (…` or `at async runHandler (…`), named as the bundle names it. */
const HANDLER_CALLER = ` ${runHandler.name} (`;

/** The run cannot succeed on any attempt: fail it without retrying. */
class PermanentFailure extends Error {
  constructor(
    readonly code: RunErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Calls the run's handler. Its name marks where a handler's stack trace leaves the handler's own
 * code (HANDLER_CALLER): the frames from it down are the worker's, cut from attempt records.
 */
async function runHandler(
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
  // Awaited here, so that this frame is in the stack of an error the handler throws after an await.
  return await handler.run(ctx, params);
}

type CheckedOutput = { ok: true; value: unknown } | { ok: false; error: RunError };

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

export function parseRunMessage(body: string): RunMessageBody | undefined {
  try {
    const result = RunMessageBody.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
