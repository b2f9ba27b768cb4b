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
 * Safe to call any time, from anywhere, concurrently: each promotion is conditional on the run
 * still waiting and a slot still free. Returns how many runs it promoted.
 */
export async function promoteWaiting(svc: Services, tenant: string, definitionName: string): Promise<number> {
  let limits: DefinitionLimits | undefined = await svc.definitions.get(tenant, definitionName);
  let promoted = 0;
  let staleRounds = 0;
  while (promoted < MAX_PROMOTIONS && staleRounds < 3) {
    const candidates = await svc.runs.waiting(tenant, definitionName, 5);
    if (candidates.length === 0) return promoted;
    let progressed = false;
    for (const ref of candidates) {
      if (limits === undefined) {
        // The definition was deleted: its waiting runs keep the limits they started under.
        limits = (await svc.runs.get(ref))?.limits ?? {};
      }
      const now = svc.clock.now();
      const result = await svc.runs.transition(ref, { status: "waiting", attempts: 0 }, promotedPatch(now), {
        definition: definitionName,
        running: 1,
        waiting: -1,
        ...(limits.maxConcurrency === undefined ? {} : { require: { runningBelow: limits.maxConcurrency } }),
        at: now.toISOString(),
      });
      if (result.ok) {
        await sendRun(svc, result.run);
        promoted += 1;
        progressed = true;
        break; // re-read the line: the index may have moved on
      }
      if (result.cause === "counter") return promoted; // no free slot
      // cause "run": no longer waiting (cancelled, or promoted by someone else); the index lags.
    }
    staleRounds = progressed ? 0 : staleRounds + 1;
  }
  return promoted;
}

/**
 * Sends a queued run's message. If SQS refuses, the run stays queued and is marked for the
 * sweeper's next round, which sends it again: an accepted run is never dropped.
 */
export async function sendRun(svc: Services, run: Run, sendId?: string): Promise<void> {
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
