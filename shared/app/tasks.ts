/** Starting, reading and cancelling runs. */
import { createHash } from "node:crypto";
import { CHAIN_PARAM, chainSpecsOf } from "../core/chain.ts";
import { isLimited, type TaskDefinition } from "../core/definition.ts";
import {
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  QueueFullError,
  ValidationError,
} from "../core/errors.ts";
import { cancelledEnding, type Ending, leaseGuard, newRun, newWorkflowRun } from "../core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { IdempotencyRecord, Page, RunListQuery } from "../core/ports.ts";
import { isTerminal, type Run, type RunStatus } from "../core/run.ts";
import { isSealed } from "../core/sealed.ts";
import { directAdmission, promoteWaiting, sendRun, slotLooksFree, waitingAdmission } from "./admission.ts";
import { emitChains, sealChainSpecs } from "./chains.ts";
import type { TenantPrincipal } from "./identity.ts";
import { recordEnd, recordStart } from "./run-metrics.ts";
import type { Services } from "./services.ts";
import { cancelWorkflowRun, reconcileWorkflow, type WorkflowOps, withLiveSteps } from "./workflows.ts";

/** How the workflow engine starts and cancels step runs: with the use cases of this module. */
export const workflowOps: WorkflowOps = {
  start: (svc, caller, input, origin) => startTask(svc, caller, input, origin),
  cancel: (svc, caller, id) => cancelTask(svc, caller, id),
};

class UnknownDefinitionError extends ValidationError {
  override readonly code: string = "unknown_definition";
}

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
}

export interface Started {
  run: Run;
  /** False when an idempotency key matched an earlier start: nothing new was started. */
  created: boolean;
}

/**
 * Starts a run: admission (slot, waiting line or queue_full) and the idempotency record are
 * written in one transaction with the run, then the message is sent.
 */
export async function startTask(
  svc: Services,
  caller: TenantPrincipal,
  input: StartInput,
  /** For cron firings: an id derived from the firing (so a repeat creates nothing) and the trigger. */
  origin: StartOrigin = {},
): Promise<Started> {
  const started = await admitStart(svc, caller, input, origin);
  // Only a start that wrote a run counts: an idempotent repeat returns an earlier run.
  if (started.created) recordStart(svc, started.run);
  return started;
}

type StartOrigin = { id?: string; trigger?: "schedule"; parent?: { id: string; step: string } };

async function admitStart(
  svc: Services,
  caller: TenantPrincipal,
  input: StartInput,
  origin: StartOrigin,
): Promise<Started> {
  const definition = await svc.definitions.get(caller.tenant, input.definition);
  if (definition === undefined) {
    throw new UnknownDefinitionError(
      `definition "${input.definition}" does not exist in tenant "${caller.tenant}"`,
    );
  }
  if (definition.kind !== "workflow" && svc.registry.get(definition.handler) === undefined) {
    throw new ValidationError(
      `definition "${definition.name}" uses handler "${definition.handler}", which this deployment does not register`,
    );
  }
  const params = { ...definition.params, ...input.params };
  if (jsonBytes(params) > LIMITS.paramsBytes) {
    throw new PayloadTooLargeError(`params exceed ${LIMITS.paramsBytes} bytes (defaults included)`);
  }
  // Sealed params (from an encrypted chain) are checked by the worker once opened.
  if (definition.kind !== "workflow" && !Object.values(params).some(isSealed)) {
    svc.registry.parseParams(definition.handler, params);
  }
  const specs = chainSpecsOf(input.chain, params);

  const now = svc.clock.now();
  const id = origin.id ?? svc.newId();
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
    ...(origin.trigger === undefined ? {} : { trigger: origin.trigger }),
    ...(origin.parent === undefined ? {} : { parent: origin.parent }),
    chains,
  };
  const extras = idempotency === undefined ? {} : { idempotency };

  const scheduledFor = dueTime(input, now);
  if (scheduledFor !== undefined && definition.kind === "workflow") {
    // A due start goes through the run queue to a worker, which has no handler for workflows.
    throw new ValidationError("a workflow starts at once: delayed starts of workflows are not supported yet");
  }
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
    await reconcileWorkflow(svc, run, workflowOps);
    return { run: (await svc.runs.get(run)) ?? run, created: true };
  }

  if (!isLimited(definition)) {
    const run = newRun(runInput, "queued", now);
    const created = await svc.runs.create(run, extras);
    if (!created.ok) return refused(svc, caller, created, idempotency);
    await sendRun(svc, run);
    return { run, created: true };
  }

  const at = now.toISOString();
  // Reading the counters first saves a refused transaction whenever runs are already waiting.
  if (await slotLooksFree(svc, caller.tenant, definition, definition.name)) {
    const direct = newRun(runInput, "queued", now);
    const first = await svc.runs.create(direct, {
      ...extras,
      counter: directAdmission(definition, definition.name, at),
    });
    if (first.ok) {
      await sendRun(svc, direct);
      return { run: direct, created: true };
    }
    if (first.cause !== "counter") return refused(svc, caller, first, idempotency);
  }

  const waiting = newRun(runInput, "waiting", now);
  const second = await svc.runs.create(waiting, {
    ...extras,
    counter: waitingAdmission(definition, definition.name, at),
  });
  if (!second.ok) {
    if (second.cause === "counter") throw queueFull(definition);
    return refused(svc, caller, second, idempotency);
  }
  // A slot may have freed between the two writes, with nobody in line to take it yet.
  const promoted = await promoteWaiting(svc, caller.tenant, definition.name);
  // Read it back only if it may have been the one promoted.
  return { run: promoted === 0 ? waiting : ((await svc.runs.get(waiting)) ?? waiting), created: true };
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

async function refused(
  svc: Services,
  caller: TenantPrincipal,
  result: { ok: false; cause: "counter" } | { ok: false; cause: "idempotency"; existing: IdempotencyRecord },
  mine: IdempotencyRecord | undefined,
): Promise<Started> {
  if (result.cause === "idempotency" && mine !== undefined) return replay(svc, caller, result.existing, mine);
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
  return { run, created: false };
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
  };
  return createHash("sha256")
    .update(JSON.stringify(canonical(request)))
    .digest("hex");
}

/** A run of the caller's tenant as stored; another tenant's run is simply not found (404, never 403). */
export async function findRun(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  const run = await svc.runs.get({ tenant: caller.tenant, id });
  if (run === undefined) throw new NotFoundError(`task "${id}" does not exist`);
  return run;
}

/** A run as shown to its owner: a workflow with the live status of each step. */
export async function getTask(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  return withLiveSteps(svc, await findRun(svc, caller, id));
}

export function listTasks(
  svc: Services,
  caller: TenantPrincipal,
  query: { status?: RunStatus; definition?: string; limit?: number; cursor?: string },
): Promise<Page<Run>> {
  const listQuery: RunListQuery = {
    tenant: caller.tenant,
    limit: query.limit ?? 20,
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.definition === undefined ? {} : { definition: query.definition }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
  return svc.runs.list(listQuery);
}

/**
 * Cancels a run. A waiting or queued run ends `cancelled` at once and never starts (its message,
 * if any, is dropped when delivered). A running one is asked to stop: its worker aborts the
 * handler's signal at its next heartbeat and ends it `cancelled`, keeping the slot until the
 * handler has really stopped. A finished run is a 409.
 */
export async function cancelTask(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  for (let round = 0; round < 5; round += 1) {
    const run = await findRun(svc, caller, id);
    if (isTerminal(run.status))
      throw new ConflictError(`task "${id}" already ended ${run.status}; nothing to cancel`);
    const now = svc.clock.now();
    const guard = { status: run.status, attempts: run.attempts };
    if (run.kind === "workflow") {
      if (await cancelWorkflowRun(svc, run, workflowOps)) return (await svc.runs.get(run)) ?? run;
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

/**
 * Ends a run (one conditional write, with the slot or place in line it gives back) and does what
 * follows every end: the next waiting run takes the slot, a success emits its chains, and a
 * workflow step's end lets its workflow move on. Every way a run ends goes through here.
 */
export async function endRun(svc: Services, run: Run, ending: Ending): Promise<boolean> {
  const chained = ending.patch.status === "succeeded" && (run.chains?.length ?? 0) > 0;
  // A run with chains stays on the sweeper's list until they are emitted, in case we die first.
  const patch = chained
    ? { ...ending.patch, sweepAt: new Date(svc.clock.now().getTime() + CHAIN_GRACE_MS).toISOString() }
    : ending.patch;
  const result = await svc.runs.transition(run, ending.guard, patch, ending.counter);
  if (!result.ok) return false;
  recordEnd(svc, run, patch);
  if (chained) {
    const output = patch.output === undefined ? run.output : patch.output;
    await emitChains(svc, { ...run, status: "succeeded" }, output, startTask);
  }
  if (ending.counter?.running !== undefined) await promoteWaiting(svc, run.tenant, ending.counter.definition);
  // A step of a workflow: the workflow decides what comes next (only once the step really ended).
  if (run.parent !== undefined && isTerminal(ending.patch.status ?? run.status)) {
    await reconcileWorkflow(svc, { tenant: run.tenant, id: run.parent.id }, workflowOps);
  }
  return true;
}

/** How long the sweeper waits before emitting the chains of a run whose emission did not finish. */
const CHAIN_GRACE_MS = 2 * 60_000;
