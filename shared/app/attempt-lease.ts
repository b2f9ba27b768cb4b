/**
 * What keeps one claimed attempt alive and honest while its handler runs: the lease heartbeat
 * (run item and SQS message), the batched progress writes, the attempt's timeout, and the abort
 * signal that tells the handler (and the worker) why the attempt stopped early.
 */
import { deadlineOf } from "../core/lifecycle.ts";
import type { RunPatch, RunReceipt } from "../core/ports.ts";
import { type Run, refOf } from "../core/run.ts";
import type { AttemptReport } from "./attempt-report.ts";
import type { Services } from "./services.ts";

/**
 * How early, by the clock, a timeout timer may fire and still be set again for the rest: Node's
 * timers run a few milliseconds ahead at most; a clock further behind has been stepped back.
 */
const TIMER_EARLY_MS = 1_000;

/** Why an attempt stopped before its handler returned. */
export type Interruption = "lost" | "cancelled" | "timed_out";

export class AttemptLease {
  readonly #svc: Services;
  readonly #run: Run;
  readonly #report: AttemptReport;
  readonly #receipt: RunReceipt;
  readonly #abort = new AbortController();
  #interruption: Interruption | undefined;
  #writes: Promise<unknown> = Promise.resolve();
  #ticker: ReturnType<typeof setInterval> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(svc: Services, run: Run, report: AttemptReport, receipt: RunReceipt) {
    this.#svc = svc;
    this.#run = run;
    this.#report = report;
    this.#receipt = receipt;
  }

  /** Aborted when the attempt lost its claim, was cancelled or timed out; the reason says which. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get interruption(): Interruption | undefined {
    return this.#interruption;
  }

  /** Starts the heartbeat and the timeout clock. */
  start(): void {
    const svc = this.#svc;
    const leaseMs = svc.worker.leaseSeconds * 1000;
    const heartbeatEveryMs = leaseMs / 3;
    let lastHeartbeat = Date.now();
    this.#ticker = setInterval(
      () => {
        const heartbeatDue = Date.now() - lastHeartbeat >= heartbeatEveryMs;
        if (!heartbeatDue && !this.#report.dirty) return;
        const patch: RunPatch = this.#report.dirty ? this.#report.takePatch({ changedLogsOnly: true }) : {};
        if (heartbeatDue) {
          lastHeartbeat = Date.now();
          patch.leaseUntil = new Date(svc.clock.now().getTime() + leaseMs).toISOString();
          svc.queue
            .setVisibility(this.#receipt, svc.worker.leaseSeconds)
            .catch((error: unknown) => svc.log.warn("could not extend message visibility", { error }));
        }
        this.write(patch).catch((error: unknown) => svc.log.warn("progress write failed", { error }));
      },
      Math.min(svc.worker.flushIntervalMs, heartbeatEveryMs),
    );
    const run = this.#run;
    const deadline = deadlineOf(run) ?? svc.clock.now().getTime() + run.timeoutSeconds * 1000;
    this.#armTimeout(deadline);
  }

  /**
   * Times the attempt out once the clock reads its deadline. Node's timers keep their own
   * monotonic millisecond time and can fire a millisecond or more before the wall clock gets
   * there, so a timer that fires that little early is set again for what is left: a run does not
   * end `timed_out` before `startedAt + timeoutSeconds`. A clock that stepped back further (an NTP
   * correction) does not hold the attempt past its timeout and the worker's 15 minutes.
   */
  #armTimeout(deadline: number): void {
    const left = () => deadline - this.#svc.clock.now().getTime();
    this.#timer = setTimeout(
      () => {
        const early = left();
        if (early > 0 && early <= TIMER_EARLY_MS) this.#armTimeout(deadline);
        else this.#interrupt("timed_out", new TimeoutError(this.#run.timeoutSeconds));
      },
      Math.max(0, left()),
    );
  }

  /**
   * Writes to the run while this attempt still holds it and nobody asked to cancel it. Writes are
   * serialized, so a slow one cannot land after, and overwrite, a newer one. A refused write
   * tells the attempt it was cancelled or lost its claim (and aborts it); it resolves false.
   */
  write(patch: RunPatch): Promise<boolean> {
    const svc = this.#svc;
    const run = this.#run;
    const ref = refOf(run);
    const next = this.#writes.then(async () => {
      if (this.#abort.signal.aborted) return false;
      const guard = { status: "running", attempts: run.attempts, notCancelRequested: true } as const;
      const updated = await svc.runs.update(ref, guard, {
        ...patch,
        updatedAt: svc.clock.now().toISOString(),
      });
      if (updated !== undefined) return true;
      const current = await svc.runs.get(ref);
      const mine = current?.status === "running" && current.attempts === run.attempts;
      if (mine && current.cancelRequestedAt !== undefined) this.#interrupt("cancelled", new CancelledError());
      else this.#interrupt("lost", new Error("this attempt lost its claim on the run"));
      return false;
    });
    this.#writes = next.catch(() => undefined);
    return next;
  }

  /** Stops the heartbeat and the clock, and waits for writes in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#ticker);
    clearTimeout(this.#timer);
    await this.#writes;
  }

  #interrupt(why: Interruption, reason: Error): void {
    this.#interruption ??= why;
    this.#abort.abort(reason);
  }
}

class CancelledError extends Error {
  constructor() {
    super("the run was cancelled");
    this.name = "CancelledError";
  }
}

export class TimeoutError extends Error {
  constructor(seconds: number) {
    super(`the attempt ran longer than its ${seconds} s timeout`);
    this.name = "TimeoutError";
  }
}
