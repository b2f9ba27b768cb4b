import type { Clock } from "../core/ports.ts";

/**
 * A clock that moves only when told: the use cases read time from their Clock, so a test can
 * put a run past its lease, its backoff or its callback deadline without waiting.
 *
 * @example
 * const clock = new ManualClock("2026-01-01T00:00:00.000Z");
 * clock.advance(30_000);
 */
export class ManualClock implements Clock {
  #ms: number;

  constructor(start: Date | string | number = "2026-01-01T00:00:00.000Z") {
    this.#ms = new Date(start).getTime();
    if (Number.isNaN(this.#ms)) throw new Error(`not a time: ${String(start)}`);
  }

  now(): Date {
    return new Date(this.#ms);
  }

  advance(ms: number): Date {
    if (ms < 0) throw new Error("a clock does not go back");
    this.#ms += ms;
    return this.now();
  }

  /** Moves to `at`, if it is later than now. */
  advanceTo(at: Date | string | number): Date {
    this.#ms = Math.max(this.#ms, new Date(at).getTime());
    return this.now();
  }
}
