/**
 * The run engine: the one place where runs are created (`startRun`, `startDue`) and ended
 * (`endRun`), whatever asked for it — the API, a cron firing, a delayed start falling due, a
 * chain, a workflow step, a handler's `ctx.tasks.start`, a cancel, the sweeper. Nothing else
 * writes a terminal status (test/unit/engine-boundary.test.ts keeps it so).
 *
 * What happens when a run ends is `AFTER_END`, one ordered list that every end runs once its
 * conditional write has applied. A crash between the write and the list is repaired by the
 * sweeper: the counters sweep promotes, a workflow run is re-derived on its `sweepAt`, and a
 * succeeded run with chains keeps a `sweepAt` until they are emitted.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { SpanKind } from "@opentelemetry/api";
import { CHAIN_PARAM, chainSpecsOf } from "../core/chain.ts";
import { type DebounceRequest, openWindow } from "../core/debounce.ts";
import type { DefinitionLimits, TaskDefinition } from "../core/definition.ts";
import {
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  QueueFullError,
  ValidationError,
} from "../core/errors.ts";
import {
  cancelledEnding,
  dueQueuedPatch,
  dueWaitingPatch,
  type Ending,
  leaseGuard,
  newRun,
  newWorkflowRun,
  type Provenance,
  queueFullPatch,
  type ReplayOf,
  refusedStartPatch,
  SENT_FIRST_SLOW_MS,
  type StartRefusal,
} from "../core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import {
  type CounterEffect,
  type CreateExtras,
  type CreateResult,
  type DebounceWrite,
  type IdempotencyRecord,
  type RunPatch,
  TENANT_SCOPE,
} from "../core/ports.ts";
import { isTerminal, type Run, type RunRef, type RunTrigger } from "../core/run.ts";
import { isSealed, SEALED_PREFIX, sealedLookalikeAt } from "../core/sealed.ts";
import type { TenantLimits } from "../core/tenant.ts";
import {
  admissionLimits,
  admit,
  type EndWrite,
  endWithHandOff,
  isUnlimited,
  promoteTenantLine,
  promoteWaiting,
  runMessageOf,
  sendRun,
} from "./admission.ts";
import { emitChains, sealChainSpecs } from "./chains.ts";
import { joinWindow } from "./debounce.ts";
import type { TenantPrincipal } from "./identity.ts";
import { withLogContext } from "./log-context.ts";
import { recordEnd, recordStart } from "./run-metrics.ts";
import type { Services } from "./services.ts";
import { takeStartToken } from "./start-rate.ts";
import { activeTraceparent, inSpan } from "./tracing.ts";
import { cancelActiveSteps, cancelWorkflowRun, reconcileWorkflow, type WorkflowOps } from "./workflows.ts";

export interface StartInput {
  definition: string;
  params?: Record<string, unknown>;
  queue?: string;
  /** The same key (per tenant) within 24 h returns the same run instead of starting another. */
  idempotencyKey?: string;
  /** Start later: at this time (ISO 8601 with offset; a past time starts now) … */
  at?: string;
  /** … or this many milliseconds from now. */
  after?: number;
  /** What to start when this run succeeds (see docs); also read from the `async-TaskChain` param. */
  chain?: unknown;
  /** 0–9, higher first in a waiting line; default the definition's `priority`, else 0. Not with `queue`. */
  priority?: number;
  /** Collapse starts with this key inside a window into one run (docs/lifecycle.md "Debounce"). */
  debounce?: DebounceRequest;
}

/** How a start came about: what asked for it and, when a run did, which one. */
export interface StartHow {
  trigger: RunTrigger;
  /** An id derived from what asked (a firing, a chain hop, a step, a handler's call): a repeat creates nothing. */
  id?: string;
  origin?: Provenance;
  /** A workflow step's run: its workflow run and step. */
  parent?: { id: string; step: string };
  /** A replay of an earlier run (shared/app/replay.ts). */
  replay?: ReplayOf;
}

export interface Started {
  run: Run;
  /** False when an idempotency key matched an earlier start, or it joined a debounce window: nothing new was started. */
  created: boolean;
  /** A debounced start: it opened its key's window (a new run), or joined the open one. */
  debounced?: "opened" | "joined";
}

/** How the workflow engine and chain emission start, end and cancel runs: with this engine. */
export const engineOps: WorkflowOps = {
  start: (svc, caller, input, how) => startRun(svc, caller, input, how),
  end: (svc, run, ending) => endRun(svc, run, ending),
  cancel: (svc, caller, id) => cancelRun(svc, caller, id),
};

class SealedLookalikeError extends ValidationError {
  override readonly code: string = "sealed_value_refused";
}

/**
 * Only a chain hop's start carries values Baton sealed itself (bound to the new run); anywhere
 * else a value that looks sealed came from a client and would skip param validation, so it is
 * refused. A chain hop's own templates are checked before they are sealed (chains.ts).
 */
function refuseSealedLookalikes(input: StartInput, definition: TaskDefinition, how: StartHow): void {
  const sources: Array<[string, unknown]> = [
    ["definition params", definition.params],
    ["chain", input.chain],
    ...(how.trigger === "chain" ? [] : ([["params", input.params]] as Array<[string, unknown]>)),
  ];
  for (const [where, value] of sources) {
    const at = sealedLookalikeAt(value);
    if (at !== undefined) {
      throw new SealedLookalikeError(
        `${where}${at === "" ? "" : ` at "${at}"`} hold a value starting with "${SEALED_PREFIX}"; only Baton seals values`,
      );
    }
  }
}

class UnknownDefinitionError extends ValidationError {
  override readonly code: string = "unknown_definition";
}

/**
 * Starts a run: admission (slot, waiting line or queue_full) and the idempotency record are
 * written in one transaction with the run, then the message is sent.
 */
export async function startRun(
  svc: Services,
  caller: TenantPrincipal,
  input: StartInput,
  how: StartHow,
): Promise<Started> {
  const attributes = { tenant: caller.tenant, definition: input.definition, trigger: how.trigger };
  return inSpan("baton.start", { kind: SpanKind.PRODUCER, attributes }, async (span) => {
    const started = await admitDebounced(svc, caller, input, how);
    span.setAttribute("taskId", started.run.id);
    // Only a start that wrote a run counts: an idempotent repeat returns an earlier run.
    if (started.created) recordStart(svc, started.run);
    return started;
  });
}

/** Raised when a concurrent start opened the same debounce window first: this one then joins it. */
class DebounceRaceError extends Error {}

/**
 * A start, debounced or not. Two debounced starts that both find their key's window closed race
 * on the window's record (written in the create transaction): the loser starts over and joins the
 * winner's window.
 */
async function admitDebounced(
  svc: Services,
  caller: TenantPrincipal,
  input: StartInput,
  how: StartHow,
): Promise<Started> {
  if (input.debounce === undefined) return admitStart(svc, caller, input, how);
  for (let round = 0; ; round += 1) {
    try {
      const started = await admitStart(svc, caller, input, how);
      return started.debounced === undefined ? { ...started, debounced: "opened" } : started;
    } catch (error) {
      if (!(error instanceof DebounceRaceError) || round >= 3) throw error;
    }
  }
}

async function admitStart(
  svc: Services,
  caller: TenantPrincipal,
  input: StartInput,
  how: StartHow,
): Promise<Started> {
  const definition = await startableDefinition(svc, caller.tenant, input.definition);
  refuseSealedLookalikes(input, definition, how);
  const params = { ...definition.params, ...input.params };
  if (jsonBytes(params) > LIMITS.paramsBytes) {
    throw new PayloadTooLargeError(`params exceed ${LIMITS.paramsBytes} bytes (defaults included)`);
  }
  // Sealed params (from an encrypted chain) are checked by the worker once opened.
  if (definition.kind !== "workflow" && !Object.values(params).some(isSealed)) {
    svc.registry.parseParams(definition.handler, params);
  }
  const specs = chainSpecsOf(input.chain, params);
  const priority = startPriority(input, definition);
  const debounce = checkDebounce(input, how, definition);

  const now = svc.clock.now();
  const id = how.id ?? svc.newId();
  // The start's span (startRun): the run's queue wait and attempts join its trace.
  const traceparent = activeTraceparent();
  const chains = await sealChainSpecs(svc, { tenant: caller.tenant, id }, specs);
  // The async-TaskChain param lives on as the run's chains (sealed where asked), not among its params.
  const { [CHAIN_PARAM]: _chainParam, ...ownParams } = input.params ?? {};
  let idempotency: IdempotencyRecord | undefined;
  if (input.idempotencyKey !== undefined) {
    idempotency = {
      tenant: caller.tenant,
      key: input.idempotencyKey,
      runId: id,
      requestHash: requestHash(input),
      expiresAt: Math.floor(now.getTime() / 1000) + LIMITS.idempotencyTtlSeconds,
    };
    const earlier = await svc.runs.getIdempotency(caller.tenant, input.idempotencyKey);
    if (earlier !== undefined && earlier.expiresAt * 1000 > now.getTime())
      return replay(svc, caller, earlier, idempotency);
  }
  const runInput = {
    tenant: caller.tenant,
    id,
    definition,
    params: ownParams,
    ...(input.queue === undefined ? {} : { queue: input.queue }),
    ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
    createdBy: caller.keyId,
    trigger: how.trigger,
    ...(how.origin === undefined ? {} : { origin: how.origin }),
    ...(how.parent === undefined ? {} : { parent: how.parent }),
    ...(how.replay === undefined ? {} : { replay: how.replay }),
    ...(traceparent === undefined ? {} : { trace: traceparent }),
    ...(priority === undefined ? {} : { priority }),
    ...(debounce === undefined ? {} : { debounceKey: debounce.key }),
    chains,
  };

  // A trailing debounce window's run starts delayMs after its first start (later starts move it).
  const scheduledFor =
    debounce !== undefined && (debounce.mode ?? "trailing") === "trailing"
      ? new Date(now.getTime() + debounce.delayMs)
      : dueTime(input, now);
  if (scheduledFor !== undefined && definition.kind === "workflow") {
    // A due start goes through the run queue to a worker, which has no handler for workflows.
    throw new ValidationError(
      debounce === undefined
        ? "a workflow starts at once: delayed starts of workflows are not supported yet"
        : 'a workflow starts at once: debounce it with "mode": "leading"',
    );
  }
  await takeStartRate(svc, caller.tenant, how, now);
  let window: DebounceWrite | undefined;
  if (debounce !== undefined) {
    // Params as a new run would snapshot them: the definition's defaults with the start's over them.
    const answer = await joinWindow(svc, caller.tenant, definition.name, debounce.key, {
      ...definition.params,
      ...ownParams,
    });
    if (answer.kind === "joined") return { run: answer.run, created: false, debounced: "joined" };
    window = {
      record: openWindow(caller.tenant, definition.name, debounce, id, now),
      ...(answer.replaces === undefined ? {} : { replaces: answer.replaces }),
    };
  }
  const extras = {
    ...(idempotency === undefined ? {} : { idempotency }),
    ...(window === undefined ? {} : { debounce: window }),
  };
  if (scheduledFor !== undefined) {
    // Admission (and the limits) apply when it falls due; until then it is only a record.
    const run = newRun({ ...runInput, scheduledFor }, "scheduled", now);
    const created = await svc.runs.create(run, extras);
    if (!created.ok) return refused(svc, caller, created, idempotency);
    await svc.timer.scheduleStart(run, scheduledFor).catch((error: unknown) => {
      svc.log.error("could not set the start's timer; the sweeper will start it", { taskId: run.id, error });
    });
    return { run, created: true };
  }

  if (definition.kind === "workflow") {
    const run = newWorkflowRun(runInput, now);
    const created = await svc.runs.create(run, extras);
    if (!created.ok) return refused(svc, caller, created, idempotency);
    const unchanged = await reconcileWorkflow(svc, run, engineOps, run);
    return { run: unchanged ?? (await svc.runs.get(run)) ?? run, created: true };
  }

  // Admission: a slot at once, a place in line, or queue_full. Without limits on the definition or
  // the tenant, the run is written alone, as it always was.
  const limits = await admissionLimits(svc, caller.tenant, definition);
  if (isUnlimited(limits) && debounce === undefined && input.queue === undefined) {
    return startSentFirst(svc, newRun(runInput, "queued", now), extras, (result) =>
      refused(svc, caller, result, idempotency),
    );
  }
  const runFor = (placement: { status: "queued" | "waiting"; marks: Partial<Run> }): Run => ({
    ...newRun(runInput, placement.status, now),
    ...placement.marks,
  });
  const outcome = await admit(svc, caller.tenant, { id, definition: definition.name }, limits, (placement) =>
    svc.runs.create(
      runFor(placement),
      placement.counters.length === 0 ? extras : { ...extras, counters: placement.counters },
    ),
  );
  if (outcome.kind === "refused") return refused(svc, caller, outcome.result, idempotency);
  if (outcome.kind === "full") {
    throw outcome.line === "tenant" ? tenantQueueFull(caller.tenant, limits.tenant) : queueFull(definition);
  }
  const run = runFor(outcome.placement);
  if (run.status === "queued") {
    await sendRun(svc, run);
    return { run, created: true };
  }
  // Read it back only if it may have been the one promoted.
  return { run: outcome.promoted === 0 ? run : ((await svc.runs.get(run)) ?? run), created: true };
}

/**
 * An unlimited start sends its message first and writes its run second, so the run needs no entry
 * in the sweep index (a put and a delete: 2 of a plain task's write units). A crash between the
 * two leaves a message whose run never appears, which the worker drops ORPHAN_WAIT_MS after the
 * send (lifecycle.ts), never a run that no message will start. A worker that gets the message
 * before the write waits for it (worker.ts). What the sweep entry covered besides is covered by
 * SQS: a lost worker's message comes back once its visibility runs out (the lease after the
 * attempt's first heartbeat, the queue's timeout before it), and the next claim takes the run
 * over or ends it. A message lost to the dead-letter queue is the operator's (its alarm).
 *
 * Not for a named queue: its FIFO group hands out one message at a time, so a message whose run
 * never appears would hold the whole queue until the worker drops it (ORPHAN_WAIT_MS).
 *
 * If SQS refuses the send, the run is written as before, marked for the sweeper's next round,
 * which sends it (202 either way). If the write is refused or its answer lost, the start answers
 * 503 and the message is an orphan, or a duplicate of a run that was written after all; the
 * worker is safe under both. A write slower than SENT_FIRST_SLOW_MS marks the run for the
 * sweeper too, since the worker may have stopped waiting for it.
 */
async function startSentFirst(
  svc: Services,
  queued: Run,
  extras: CreateExtras,
  onRefused: (result: Exclude<CreateResult, { ok: true }>) => Promise<Started>,
): Promise<Started> {
  const { sweepAt: _sentInstead, ...run } = queued;
  const sentAt = svc.clock.now();
  const sent = await svc.queue
    .enqueue({ ...runMessageOf(run), sentAt: sentAt.toISOString() })
    .then(() => true)
    .catch((error: unknown) => {
      svc.log.error("could not send the run's message; the sweeper will send it", {
        tenant: run.tenant,
        taskId: run.id,
        error,
      });
      return false;
    });
  const stored: Run = sent ? run : { ...run, sweepAt: sentAt.toISOString() };
  const created = await svc.runs.create(stored, extras);
  if (!created.ok) return onRefused(created);
  const now = svc.clock.now();
  if (sent && now.getTime() - sentAt.getTime() > SENT_FIRST_SLOW_MS) {
    await svc.runs
      .update(stored, { status: "queued", attempts: 0 }, { sweepAt: now.toISOString() })
      .catch((error: unknown) => svc.log.error("could not mark a slow start for the sweeper", { error }));
  }
  return { run: stored, created: true };
}

/**
 * The tenant's start rate (app/start-rate.ts), taken after everything that could refuse the start
 * as invalid and before anything is written, so a refused start writes nothing. A delayed start
 * counts when it is asked for, not when it falls due. A workflow's steps are part of the
 * workflow's one start and take nothing (refusing one would fail a workflow already admitted).
 * A start refused after taking its token (queue_full, a lost race on an idempotency key) has
 * still spent it: that errs on the safe side.
 */
async function takeStartRate(svc: Services, tenant: string, how: StartHow, now: Date): Promise<void> {
  if (how.parent !== undefined) return;
  const refused = await takeStartToken(svc, tenant, now);
  if (refused === undefined) return;
  // A repeat of a start already made (an id derived from what asked: a handler's retried call,
  // a chain emitted again, a firing delivered twice) is answered as the create would answer it.
  if (how.id !== undefined && (await svc.runs.get({ tenant, id: how.id })) !== undefined) {
    throw new ConflictError(`run ${how.id} already exists`);
  }
  throw refused;
}

/**
 * A start's debounce, checked against the rest of the start: only a start over the API (a
 * handler's, a chain's or a schedule's start already has an id that makes a repeat start nothing),
 * never with a time of its own (the window decides when its run starts) or an idempotency key
 * (a debounced start is already safe to repeat inside its window).
 */
function checkDebounce(
  input: StartInput,
  how: StartHow,
  definition: TaskDefinition,
): DebounceRequest | undefined {
  const debounce = input.debounce;
  if (debounce === undefined) return undefined;
  if (how.id !== undefined || how.parent !== undefined) {
    throw new ValidationError('"debounce" applies to starts over the API (POST /v1/tasks)');
  }
  if (input.at !== undefined || input.after !== undefined) {
    throw new ValidationError('"debounce" decides when the run starts: leave out "at" and "after"');
  }
  if (input.idempotencyKey !== undefined) {
    throw new ValidationError(
      'give "idempotencyKey" or "debounce", not both: a debounced start is already safe to repeat inside its window',
    );
  }
  if (definition.kind === "workflow" && (debounce.mode ?? "trailing") === "trailing") {
    throw new ValidationError('a workflow starts at once: debounce it with "mode": "leading"');
  }
  return debounce;
}

/**
 * A start's priority: its own, else its definition's. A named queue keeps strict FIFO order (its
 * runs start in the order of their starts, one at a time), so a priority there is refused, and a
 * definition's default does not apply to it.
 */
function startPriority(input: StartInput, definition: TaskDefinition): number | undefined {
  if (input.queue === undefined) return input.priority ?? definition.priority;
  if (input.priority !== undefined && input.priority !== 0) {
    throw new ValidationError(
      `"priority" does not apply to a named queue: queue "${input.queue}" starts its runs in strict FIFO order; leave out "queue" or "priority"`,
    );
  }
  return undefined;
}

async function startableDefinition(svc: Services, tenant: string, name: string): Promise<TaskDefinition> {
  const definition = await svc.definitions.get(tenant, name);
  if (definition === undefined) {
    throw new UnknownDefinitionError(`definition "${name}" does not exist in tenant "${tenant}"`);
  }
  if (definition.kind !== "workflow" && svc.registry.get(definition.handler) === undefined) {
    throw new ValidationError(
      `definition "${definition.name}" uses handler "${definition.handler}", which this deployment does not register`,
    );
  }
  return definition;
}

/**
 * A start that its definition's full waiting line (`queue_full`) or its tenant's start rate
 * (`rate_limited`) refused, recorded as a run that ended `failed` with that code (for starts
 * nobody waits on, such as cron firings, so the refusal shows in the task list). Created
 * `scheduled` and ended through `endRun` like any run: if the process dies in between, the
 * delayed-start path admits it later instead (under the definition's limits; the start rate is
 * not taken again).
 */
export async function recordRefusedStart(
  svc: Services,
  caller: TenantPrincipal,
  input: StartInput,
  how: StartHow & { id: string },
  refusal: StartRefusal,
): Promise<Run> {
  const definition = await startableDefinition(svc, caller.tenant, input.definition);
  const now = svc.clock.now();
  const run = newRun(
    {
      tenant: caller.tenant,
      id: how.id,
      definition,
      params: input.params ?? {},
      createdBy: caller.keyId,
      trigger: how.trigger,
      ...(how.origin === undefined ? {} : { origin: how.origin }),
      // Due now, so the due-start index holds it until it has ended: a crash before the end
      // leaves it for the sweeper to admit (startDue), not scheduled forever.
      scheduledFor: now,
    },
    "scheduled",
    now,
  );
  await svc.runs.create(run); // a ConflictError here means an earlier delivery recorded it
  await endRun(svc, run, {
    guard: { status: "scheduled", attempts: 0 },
    patch: refusedStartPatch(run, now, refusal),
  });
  return (await svc.runs.get(run)) ?? run;
}

/** When a delayed start is due; undefined when it should start now (no delay, or a past `at`). */
function dueTime(input: StartInput, now: Date): Date | undefined {
  if (input.at !== undefined && input.after !== undefined) {
    throw new ValidationError('give either "at" or "after", not both');
  }
  const due =
    input.at !== undefined
      ? new Date(input.at)
      : input.after !== undefined
        ? new Date(now.getTime() + input.after)
        : undefined;
  if (due !== undefined && Number.isNaN(due.getTime())) {
    throw new ValidationError(`"at" must be an ISO 8601 time with an offset, e.g. 2030-01-01T09:00:00Z`);
  }
  if (due !== undefined && due.getTime() - now.getTime() > LIMITS.maxDelayMs) {
    throw new ValidationError(`a start can be delayed by at most ${LIMITS.maxDelayMs / 86_400_000} days`);
  }
  return due !== undefined && due.getTime() > now.getTime() ? due : undefined;
}

function queueFull(definition: TaskDefinition): QueueFullError {
  return new QueueFullError(
    `definition "${definition.name}" already has ${definition.maxQueueLength} runs waiting (maxQueueLength); try again later`,
    { details: { maxQueueLength: definition.maxQueueLength, maxConcurrency: definition.maxConcurrency } },
  );
}

/** The tenant's own line (the operator's cap) is full, whatever its definitions' lines hold. */
function tenantQueueFull(tenant: string, limits: TenantLimits): QueueFullError {
  return new QueueFullError(tenantQueueFullMessage(tenant, limits), {
    details: { limit: "tenant", maxWaiting: limits.maxWaiting, maxConcurrency: limits.maxConcurrency },
  });
}

function tenantQueueFullMessage(tenant: string, limits: TenantLimits): string {
  return `tenant "${tenant}" already has ${limits.maxWaiting} runs waiting for one of its ${limits.maxConcurrency} slots (the tenant's maxWaiting, set by the operator); try again later`;
}

async function refused(
  svc: Services,
  caller: TenantPrincipal,
  result: Exclude<CreateResult, { ok: true }>,
  mine: IdempotencyRecord | undefined,
): Promise<Started> {
  if (result.cause === "idempotency" && mine !== undefined) return replay(svc, caller, result.existing, mine);
  if (result.cause === "debounce") throw new DebounceRaceError("another start opened the debounce window");
  throw new Error(`start refused by ${result.cause}`);
}

/** An idempotency key seen before: the same request gets the same run; another request, 409. */
async function replay(
  svc: Services,
  caller: TenantPrincipal,
  earlier: IdempotencyRecord,
  mine: IdempotencyRecord,
): Promise<Started> {
  if (earlier.requestHash !== mine.requestHash) {
    throw new ConflictError(
      `idempotency key "${mine.key}" was used for a different start (definition, params or queue) within 24 h`,
    );
  }
  const run = await svc.runs.get({ tenant: caller.tenant, id: earlier.runId });
  if (run === undefined)
    throw new ConflictError(`idempotency key "${mine.key}" belongs to a run that no longer exists`);
  // A run still waiting for its first message may be all that a start whose answer was lost
  // (a 503 after DynamoDB applied it) left: a limited run's message was never sent, and the
  // sweeper would send it only 15 minutes on. Send it now. (A run sent before its write already
  // has one: this is then a duplicate, which the conditional claim absorbs.)
  if (run.status === "queued" && run.attempts === 0 && (await mayResendOnRepeat(svc, run))) {
    await sendRun(svc, run);
  }
  return { run, created: false };
}

/**
 * Whether a repeated start may send its queued run's message again. On a named queue, always:
 * FIFO drops a send under the start's own deduplication id within 5 minutes. On the fair queue,
 * which does not deduplicate, once per run: the first repeat marks the run (a conditional write
 * on `updatedAt`, untouched since the run was created), so a client repeating a start in a loop
 * cannot pile messages up on the workers.
 */
async function mayResendOnRepeat(svc: Services, run: Run): Promise<boolean> {
  if (run.queue !== undefined) return true;
  if (run.updatedAt !== run.createdAt) return false;
  const marked = await svc.runs.update(
    run,
    { status: "queued", attempts: 0, updatedAt: run.updatedAt },
    { updatedAt: laterThan(run.updatedAt, svc.clock.now()) },
  );
  return marked !== undefined;
}

/** `now` as ISO text, at least a millisecond after `since` (so a mark always changes the value). */
function laterThan(since: string, now: Date): string {
  return new Date(Math.max(now.getTime(), Date.parse(since) + 1)).toISOString();
}

/** Canonical JSON (sorted keys), so the same params in another key order are the same request. */
function requestHash(input: StartInput): string {
  const canonical = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(canonical);
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((key) => [key, canonical((value as Record<string, unknown>)[key])]),
      );
    }
    return value;
  };
  const request = {
    definition: input.definition,
    params: input.params ?? {},
    queue: input.queue ?? null,
    at: input.at ?? null,
    after: input.after ?? null,
    chain: input.chain ?? null,
    // Only when given, so records made before priority existed still match their repeats.
    ...(input.priority === undefined ? {} : { priority: input.priority }),
  };
  return createHash("sha256")
    .update(JSON.stringify(canonical(request)))
    .digest("hex");
}

export type DueOutcome = "queued" | "waiting" | "queue_full" | "not_due" | "rearmed" | "not_scheduled";

/**
 * A delayed start fell due: admit it now, under the limits in force now. Every step is guarded on
 * the run still being `scheduled`, so a timer that fires twice starts it once.
 */
export async function startDue(svc: Services, ref: RunRef, rounds = 3): Promise<DueOutcome> {
  const run = await svc.runs.get(ref);
  if (run === undefined || run.status !== "scheduled") return "not_scheduled";
  const now = svc.clock.now();
  if (run.scheduledFor !== undefined && Date.parse(run.scheduledFor) > now.getTime() + EARLY_TOLERANCE_MS) {
    if (run.debounceKey === undefined) return "not_due";
    // A debounce window's run whose due time later starts moved: its timer is set again for then.
    await svc.timer.scheduleStart(run, new Date(run.scheduledFor));
    return "rearmed";
  }
  // A debounced run is also guarded on updatedAt: a start that joins it meanwhile (new params, a
  // later due time) makes this write miss, and the run is looked at again.
  const guard = {
    status: "scheduled",
    attempts: 0,
    ...(run.debounceKey === undefined ? {} : { updatedAt: run.updatedAt }),
  } as const;
  const definitionLimits: DefinitionLimits =
    (await svc.definitions.get(run.tenant, run.definition)) ?? run.limits ?? {};
  const limits = await admissionLimits(svc, run.tenant, definitionLimits);
  const outcome = await admit(svc, run.tenant, run, limits, (placement) =>
    svc.runs.transition(
      run,
      guard,
      {
        ...(placement.status === "queued" ? dueQueuedPatch(now, false) : dueWaitingPatch(now)),
        ...placement.marks,
      },
      placement.counters,
    ),
  );
  if (outcome.kind === "refused") {
    return run.debounceKey !== undefined && rounds > 1 ? startDue(svc, ref, rounds - 1) : "not_scheduled";
  }
  if (outcome.kind === "placed") {
    if (outcome.placement.status === "waiting") return "waiting";
    await sendRun(svc, run);
    return "queued";
  }
  const message = outcome.line === "tenant" ? tenantQueueFullMessage(run.tenant, limits.tenant) : undefined;
  const ended = await endRun(svc, run, { guard, patch: queueFullPatch(run, now, message) });
  return ended ? "queue_full" : "not_scheduled";
}

/** SQS delays are whole seconds and clocks drift a little: a firing this early still counts. */
const EARLY_TOLERANCE_MS = 1_000;

/** Starts every delayed start due by `dueBy` (the local timer loop, and the sweeper's backstop). */
export async function startDueRuns(svc: Services, dueBy: Date, limit = 100): Promise<number> {
  const due = await svc.runs.dueToStart(dueBy.toISOString(), limit);
  let started = 0;
  // A few at a time: many starts falling due together must not queue up behind each other.
  const lanes = Array.from({ length: Math.min(DUE_CONCURRENCY, due.length) }, async () => {
    for (let ref = due.shift(); ref !== undefined; ref = due.shift()) {
      const outcome = await withLogContext({ tenant: ref.tenant, taskId: ref.id }, () => startDue(svc, ref));
      if (outcome === "queued" || outcome === "waiting" || outcome === "queue_full") started += 1;
    }
  });
  await Promise.all(lanes);
  return started;
}

const DUE_CONCURRENCY = 16;

/** A run that just ended: as it was before the write, and the write that ended it. */
export interface EndedRun {
  before: Run;
  patch: RunPatch;
  ending: Ending;
  /** The slots it gave back that nobody took in the same write (see endWithHandOff). */
  freed: readonly CounterEffect[];
}

/** One thing that follows an end. Each is safe to run again (the sweeper may repeat it after a crash). */
type AfterEnd = (svc: Services, ended: EndedRun) => Promise<void>;

/**
 * The next waiting runs take the slots this run gave back and nobody took in the ending write
 * itself: its definition's line first (its next run needs the definition slot that just freed,
 * and takes the tenant slot with it), then its tenant's line for a tenant slot still free.
 */
const promoteNext: AfterEnd = async (svc, { before, freed: given }) => {
  const freed = given.filter((effect) => effect.running !== undefined);
  for (const effect of freed) {
    if (effect.definition !== TENANT_SCOPE) await promoteWaiting(svc, before.tenant, effect.definition);
  }
  if (freed.some((effect) => effect.definition === TENANT_SCOPE)) await promoteTenantLine(svc, before.tenant);
};

/** A workflow step ended: its workflow decides what comes next (only once the step really ended). */
const advanceWorkflow: AfterEnd = async (svc, { before, patch }) => {
  if (before.parent === undefined || !isTerminal(patch.status ?? before.status)) return;
  await reconcileWorkflow(svc, { tenant: before.tenant, id: before.parent.id }, engineOps);
};

/** A workflow run that failed or was cancelled stops its steps that are still going. */
const stopWorkflowSteps: AfterEnd = async (svc, { before, patch }) => {
  const status = patch.status ?? before.status;
  if (before.kind !== "workflow" || !isTerminal(status) || status === "succeeded") return;
  await cancelActiveSteps(svc, before, engineOps);
};

/** A success starts the run's chains and records what came of each on it. */
const emitRunChains: AfterEnd = async (svc, { before, patch }) => {
  if (patch.status !== "succeeded" || (before.chains?.length ?? 0) === 0) return;
  const output = patch.output === undefined ? before.output : patch.output;
  await emitChains(svc, { ...before, status: "succeeded" }, output, startRun);
};

const recordEndMetrics: AfterEnd = async (svc, { before, patch }) => recordEnd(svc, before, patch);

/** What follows every end, in this order. The slot itself is given back in the ending write. */
const AFTER_END: readonly AfterEnd[] = [
  promoteNext,
  advanceWorkflow,
  stopWorkflowSteps,
  emitRunChains,
  recordEndMetrics,
];

/**
 * Ends a run: one conditional write (with the slot or place in line it gives back), then
 * everything in AFTER_END. Also records moves that do not end the run but change who holds it
 * (a retry going back to the queue, a callback run starting to await). False when the run had
 * moved on: nothing was written and nothing follows.
 */
export async function endRun(svc: Services, run: Run, ending: Ending): Promise<boolean> {
  const chained = ending.patch.status === "succeeded" && (run.chains?.length ?? 0) > 0;
  // A run with chains stays on the sweeper's list until they are emitted, in case we die first.
  const patch = chained
    ? { ...ending.patch, sweepAt: new Date(svc.clock.now().getTime() + CHAIN_GRACE_MS).toISOString() }
    : ending.patch;
  const released = ending.counters ?? [];
  const write = await endingWrite.run(true, async (): Promise<EndWrite> => {
    // A run giving back its definition's slot hands it to the next waiting run in the same write.
    const handed = await endWithHandOff(svc, { ref: run, guard: ending.guard, patch }, released);
    if (handed !== undefined) return handed;
    const result = await svc.runs.transition(run, ending.guard, patch, ending.counters);
    return result.ok ? { written: true, freed: released } : { written: false };
  });
  if (!write.written) return false;
  for (const effect of AFTER_END) await effect(svc, { before: run, patch, ending, freed: write.freed });
  return true;
}

/** Set while endRun's own write is in flight; lets tests prove that no other code ends a run. */
const endingWrite = new AsyncLocalStorage<true>();

/** Whether the caller is endRun writing an end (see test/support/terminal-write-guard.ts). */
export function isEndingWrite(): boolean {
  return endingWrite.getStore() === true;
}

/** How long the sweeper waits before emitting the chains of a run whose emission did not finish. */
const CHAIN_GRACE_MS = 2 * 60_000;

/**
 * Cancels a run. A waiting or queued run ends `cancelled` at once and never starts (its message,
 * if any, is dropped when delivered). A running one is asked to stop: its worker aborts the
 * handler's signal at its next heartbeat and ends it `cancelled`, keeping the slot until the
 * handler has really stopped. A workflow run ends at once and cancels its active steps. A
 * finished run is a 409.
 */
export async function cancelRun(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  for (let round = 0; round < 5; round += 1) {
    const run = await svc.runs.get({ tenant: caller.tenant, id });
    if (run === undefined) throw new NotFoundError(`task "${id}" does not exist`);
    if (isTerminal(run.status))
      throw new ConflictError(`task "${id}" already ended ${run.status}; nothing to cancel`);
    const now = svc.clock.now();
    // A waiting run may change lines (or shards) without changing status: its release names the line it was read in.
    const guard = {
      status: run.status,
      attempts: run.attempts,
      ...(run.status === "waiting" ? { inTenantLine: run.tenantLine === true, shard: run.shard ?? 0 } : {}),
    };
    if (run.kind === "workflow") {
      if (await cancelWorkflowRun(svc, run, engineOps)) return (await svc.runs.get(run)) ?? run;
      continue;
    }
    if (run.status === "running") {
      if (run.cancelRequestedAt !== undefined) return run;
      const leaseOver = run.leaseUntil !== undefined && Date.parse(run.leaseUntil) <= now.getTime();
      if (!leaseOver) {
        const asked = await svc.runs.update(run, guard, { cancelRequestedAt: now.toISOString() });
        if (asked !== undefined) return asked;
        continue;
      }
      // Its worker is gone: nobody would see the request, so end it here.
    }
    if (run.status === "scheduled") await svc.timer.cancelStart(run).catch(() => undefined);
    const ended = await endRun(svc, run, {
      guard: run.status === "running" ? leaseGuard(run) : guard,
      ...cancelledEnding(run, now),
    });
    if (ended) return (await svc.runs.get(run)) ?? run;
    // The run moved on meanwhile (promoted, claimed, finished): look again.
  }
  throw new ConflictError(`task "${id}" keeps changing; try the cancel again`);
}
