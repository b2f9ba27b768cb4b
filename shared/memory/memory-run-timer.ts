import type { RunTimer } from "../core/ports.ts";
import type { RunRef } from "../core/run.ts";

/**
 * Delayed starts' timers in memory: what is set, for when. Nothing fires by itself; whoever
 * drives the clock takes the `due` ones and calls startDue, as the trigger Lambda would.
 */
export class MemoryRunTimer implements RunTimer {
  readonly #timers = new Map<string, { run: RunRef; at: Date }>();

  async scheduleStart(run: RunRef, at: Date): Promise<void> {
    this.#timers.set(keyOf(run), { run: { tenant: run.tenant, id: run.id }, at: new Date(at) });
  }

  async cancelStart(run: RunRef): Promise<void> {
    this.#timers.delete(keyOf(run));
  }

  /** Every timer set and not cancelled or taken, earliest first. */
  pending(): Array<{ run: RunRef; at: Date }> {
    return [...this.#timers.values()]
      .sort((a, b) => a.at.getTime() - b.at.getTime())
      .map(({ run, at }) => ({ run: { ...run }, at: new Date(at) }));
  }

  /** Removes and returns the timers due by `now`: each fires once, as a timer does. */
  takeDue(now: Date): RunRef[] {
    const due = this.pending().filter((timer) => timer.at.getTime() <= now.getTime());
    for (const timer of due) this.#timers.delete(keyOf(timer.run));
    return due.map((timer) => timer.run);
  }
}

function keyOf(run: RunRef): string {
  return `${run.tenant}#${run.id}`;
}
