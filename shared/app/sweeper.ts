/**
 * The sweeper: a backstop that runs every minute (EventBridge on AWS, a timer locally) and
 * repairs what a crash between two writes can leave behind. Everything it does is a conditional
 * write, so running it twice, or two of it at once, changes nothing more than running it once.
 *
 * - a queued run whose message may never have been sent: send it again (a repeat is harmless);
 * - a running run whose worker stopped renewing its lease: back to the queue, or ended
 *   (`cancelled` if asked, `timed_out` past its deadline, else `failed`) with its slot freed;
 * - a bulk action that saved no page for a while: its page message sent again;
 * - counters that disagree with the runs: set from the runs, then free slots filled in order
 *   (a definition's counters and lines, and a capped tenant's own: TENANT_SCOPE).
 */
import {
  callbackTimedOutEnding,
  endAbandoned,
  RESEND_AFTER_MS,
  requeueAbandoned,
  SWEEP_GRACE_MS,
  WORKFLOW_RECHECK_MS,
} from "../core/lifecycle.ts";
import type { Counters } from "../core/ports.ts";
import type { Run } from "../core/run.ts";
import { promoteWaiting, sendRun } from "./admission.ts";
import { sweepBulks } from "./bulk.ts";
import { emitChains } from "./chains.ts";
import { endRun, engineOps, startDueRuns, startRun } from "./engine.ts";
import { withLogContext } from "./log-context.ts";
import type { Services } from "./services.ts";
import { reconcileWorkflow } from "./workflows.ts";

export interface SweepReport {
  resent: number;
  requeued: number;
  ended: number;
  countersRepaired: number;
  promoted: number;
  started: number;
  /** Bulk actions whose page message was sent again (shared/app/bulk.ts). */
  bulksResent: number;
}

const OVERDUE_MS = 60_000;

/**
 * Counters changed less than this long ago are left alone: the indexes that count the runs are
 * eventually consistent, and a counter in the middle of changing is not a broken one.
 */
export const COUNTERS_QUIET_MS = 10_000;
const RUNS_PER_SWEEP = 100;

export async function sweep(svc: Services): Promise<SweepReport> {
  const report: SweepReport = {
    resent: 0,
    requeued: 0,
    ended: 0,
    countersRepaired: 0,
    promoted: 0,
    started: 0,
    bulksResent: 0,
  };
  const now = svc.clock.now();
  // Delayed starts whose timer did not fire (a lost message, a failed schedule): start them late
  // rather than never. Only those overdue by a while, not the ones a timer is about to fire.
  report.started = await startDueRuns(svc, new Date(now.getTime() - OVERDUE_MS));
  for (const ref of await svc.runs.dueForSweep(now.toISOString(), RUNS_PER_SWEEP)) {
    const run = await svc.runs.get(ref);
    if (run === undefined) continue;
    const keys = { tenant: run.tenant, taskId: run.id, definition: run.definition, attempt: run.attempts };
    await withLogContext(keys, () => sweepRun(svc, run, now, report));
  }
  report.bulksResent = await sweepBulks(svc, now, RUNS_PER_SWEEP);
  let cursor: string | undefined;
  do {
    const page = await svc.counters.list(cursor);
    for (const counters of page.items) await sweepCounters(svc, counters, now, report);
    cursor = page.cursor;
  } while (cursor !== undefined);
  if (
    report.resent +
      report.requeued +
      report.ended +
      report.countersRepaired +
      report.started +
      report.bulksResent >
    0
  ) {
    svc.log.info("sweep repaired runs", { ...report });
  }
  return report;
}

async function sweepRun(svc: Services, run: Run, now: Date, report: SweepReport): Promise<void> {
  if (run.sweepAt === undefined || Date.parse(run.sweepAt) > now.getTime()) return;
  const later = (ms: number) => new Date(now.getTime() + ms).toISOString();
  if (run.status === "queued") {
    // Moving sweepAt first decides which sweeper resends; the send id makes a repeat a no-op.
    const moved = await svc.runs.update(
      run,
      { status: "queued", attempts: run.attempts },
      { sweepAt: later(RESEND_AFTER_MS) },
    );
    if (moved === undefined) return;
    await sendRun(svc, run, `resend-${run.sweepAt}`);
    report.resent += 1;
    return;
  }
  if (run.status === "succeeded" && (run.chains?.length ?? 0) > 0) {
    // Its process died between the run's end and the emission of its chains.
    await emitChains(svc, run, run.output, startRun);
    return;
  }
  if (run.status === "awaiting") {
    const deadline = Date.parse(run.callbackDeadline ?? run.sweepAt);
    if (deadline <= now.getTime()) {
      const guard = { status: "awaiting", attempts: run.attempts } as const;
      if (await endRun(svc, run, { guard, ...callbackTimedOutEnding(run, now) })) report.ended += 1;
    } else {
      await svc.runs.update(
        run,
        { status: "awaiting", attempts: run.attempts },
        { sweepAt: new Date(deadline).toISOString() },
      );
    }
    return;
  }
  if (run.status !== "running") return;
  if (run.kind === "workflow") {
    // No worker holds a workflow run: re-derive it from its steps, in case a step's end was lost.
    await reconcileWorkflow(svc, run, engineOps);
    await svc.runs.update(
      run,
      { status: "running", attempts: run.attempts },
      { sweepAt: later(WORKFLOW_RECHECK_MS) },
    );
    return;
  }
  const lease = run.leaseUntil === undefined ? 0 : Date.parse(run.leaseUntil);
  if (lease > now.getTime()) {
    // Alive and renewing: look again after its lease.
    await svc.runs.update(
      run,
      { status: "running", attempts: run.attempts },
      { sweepAt: later(lease - now.getTime() + SWEEP_GRACE_MS) },
    );
    return;
  }
  const ending = endAbandoned(run, now);
  if (ending !== undefined) {
    if (await endRun(svc, run, ending)) report.ended += 1;
    return;
  }
  const requeue = requeueAbandoned(run, now);
  const result = await svc.runs.transition(run, requeue.guard, requeue.patch);
  if (!result.ok) return;
  await sendRun(svc, run, `requeue-${run.attempts}`);
  report.requeued += 1;
}

async function sweepCounters(
  svc: Services,
  counters: Counters,
  now: Date,
  report: SweepReport,
): Promise<void> {
  // How many wait, as far as this sweep knows; undefined once a refused repair makes it unsure.
  let waiting: number | undefined = counters.waiting;
  if (now.getTime() - Date.parse(counters.updatedAt) >= COUNTERS_QUIET_MS) {
    const truth = await svc.runs.countHolders(counters.tenant, counters.definition);
    if (truth.running !== counters.running || truth.waiting !== counters.waiting) {
      const repaired = await svc.counters.repair(counters, { ...truth, at: now.toISOString() });
      waiting = repaired ? truth.waiting : undefined;
      if (repaired) {
        report.countersRepaired += 1;
        svc.log.warn("counters repaired", {
          tenant: counters.tenant,
          definition: counters.definition,
          was: counters,
          now: truth,
        });
      }
    }
  }
  // promoteWaiting reads the counters again; with nobody waiting it would find nothing to do.
  if (waiting === undefined || waiting > 0) {
    report.promoted += await promoteWaiting(svc, counters.tenant, counters.definition);
  }
}
