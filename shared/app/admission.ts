/**
 * Admission: whether a start may take one of its definition's `maxConcurrency` slots, must wait
 * in line (in DynamoDB, not in SQS), or is refused because the line is at `maxQueueLength`; and
 * which waiting run takes a slot when one frees. Every decision is one transaction over the run
 * and its definition's counters, so no race can let an extra run in or count one twice.
 * Limits are read live from the definition at each decision.
 */
import type { DefinitionLimits } from "../core/definition.ts";
import { promotedPatch } from "../core/lifecycle.ts";
import type { CounterEffect } from "../core/ports.ts";
import type { Run } from "../core/run.ts";
import type { Services } from "./services.ts";

/** The counters change of a start that goes straight to the queue: a free slot and nobody ahead. */
export function directAdmission(limits: DefinitionLimits, definition: string, at: string): CounterEffect {
  return {
    definition,
    running: 1,
    require: {
      ...(limits.maxConcurrency === undefined ? {} : { runningBelow: limits.maxConcurrency }),
      // Never overtake runs already waiting; they get freed slots first, in order.
      noneWaiting: true,
    },
    at,
  };
}

/** The counters change of a start that joins the waiting line. */
export function waitingAdmission(limits: DefinitionLimits, definition: string, at: string): CounterEffect {
  return {
    definition,
    waiting: 1,
    ...(limits.maxQueueLength === undefined ? {} : { require: { waitingBelow: limits.maxQueueLength } }),
    at,
  };
}

/** How many promotions one call makes at most; the sweeper picks up anything left. */
const MAX_PROMOTIONS = 50;

/**
 * Moves the oldest waiting runs of a definition into free slots and sends their messages.
 * Safe to call any time, from anywhere, concurrently: each promotion is one transaction,
 * conditional on the run still waiting and a slot still free. Returns how many it promoted.
 *
 * Concurrent callers (every run that ends frees a slot) would all reach for the same oldest run;
 * each picks at random among the first `free` waiting runs instead. All of those get the free
 * slots anyway, so the line still moves in start order, without the callers colliding.
 */
export async function promoteWaiting(svc: Services, tenant: string, definitionName: string): Promise<number> {
  let limits: DefinitionLimits | undefined;
  let promoted = 0;
  for (let round = 0; round < MAX_PROMOTIONS * 2 && promoted < MAX_PROMOTIONS; round += 1) {
    const counters = await svc.counters.get(tenant, definitionName);
    if (counters === undefined || counters.waiting <= 0) return promoted;
    limits ??= await liveLimits(svc, tenant, definitionName);
    const free =
      limits.maxConcurrency === undefined ? counters.waiting : limits.maxConcurrency - counters.running;
    if (free <= 0) return promoted;
    const candidates = await svc.runs.waiting(tenant, definitionName, Math.min(free, 10));
    const ref = candidates[Math.floor(svc.random() * candidates.length)];
    if (ref === undefined) return promoted;
    const now = svc.clock.now();
    const result = await svc.runs.transition(ref, { status: "waiting", attempts: 0 }, promotedPatch(now), {
      definition: definitionName,
      running: 1,
      waiting: -1,
      ...(limits.maxConcurrency === undefined ? {} : { require: { runningBelow: limits.maxConcurrency } }),
      at: now.toISOString(),
    });
    if (result.ok) {
      await sendRun(svc, { ...ref, attempts: 0 });
      promoted += 1;
      // That was the last free slot as of the read: no need to read the counters again.
      if (free === 1) return promoted;
    }
    // Refused: another caller took that run or that slot first; look at the counters again.
  }
  return promoted;
}

/** The definition's limits now, or, if it was deleted, those its waiting runs started under. */
async function liveLimits(svc: Services, tenant: string, definitionName: string): Promise<DefinitionLimits> {
  const definition = await svc.definitions.get(tenant, definitionName);
  if (definition !== undefined) return definition;
  const [oldest] = await svc.runs.waiting(tenant, definitionName, 1);
  return (oldest === undefined ? undefined : (await svc.runs.get(oldest))?.limits) ?? {};
}

/** Whether a start can take a slot at once: one is free and nobody waits (a read; the write decides). */
export async function slotLooksFree(
  svc: Services,
  tenant: string,
  limits: DefinitionLimits,
  definition: string,
) {
  const counters = await svc.counters.get(tenant, definition);
  if (counters === undefined) return true;
  return (
    counters.waiting <= 0 && (limits.maxConcurrency === undefined || counters.running < limits.maxConcurrency)
  );
}

/**
 * Sends a queued run's message. If SQS refuses, the run stays queued and is marked for the
 * sweeper's next round, which sends it again: an accepted run is never dropped.
 */
export async function sendRun(
  svc: Services,
  run: Pick<Run, "tenant" | "id" | "queue" | "timeoutSeconds" | "attempts">,
  sendId?: string,
): Promise<void> {
  try {
    await svc.queue.enqueue(
      {
        tenant: run.tenant,
        runId: run.id,
        timeoutSeconds: run.timeoutSeconds,
        ...(run.queue === undefined ? {} : { queue: run.queue }),
      },
      sendId,
    );
  } catch (error) {
    svc.log.error("could not send the run's message; the sweeper will send it", {
      tenant: run.tenant,
      taskId: run.id,
      error,
    });
    await svc.runs
      .update(run, { status: "queued", attempts: run.attempts }, { sweepAt: svc.clock.now().toISOString() })
      .catch(() => undefined);
  }
}
