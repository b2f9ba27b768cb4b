/**
 * What a handler reports during one attempt (feedback, progress, log lines), kept in memory and
 * written in batches: a handler that logs in a tight loop costs one write per flush interval,
 * not one per line. The run item is the single place it lands.
 */
import { LIMITS } from "../core/limits.ts";
import type { RunPatch } from "../core/ports.ts";
import type { LogLine, Run } from "../core/run.ts";
import { appendLogLines } from "../core/run-logs.ts";
import type { FeedbackOptions } from "../core/task.ts";

export class AttemptReport {
  #feedback: string | undefined;
  #progress: number | undefined;
  #logs: LogLine[];
  #logsDropped: number;
  #dirty = false;
  /** Whether log lines came since the last patch taken (progress flushes write logs only then). */
  #logsChanged = false;

  constructor(run: Run) {
    this.#feedback = run.feedback;
    this.#progress = run.progress;
    this.#logs = [...run.logs];
    this.#logsDropped = run.logsDropped ?? 0;
  }

  get dirty(): boolean {
    return this.#dirty;
  }

  feedback(text: string, options: FeedbackOptions = {}): void {
    const next =
      options.mode === "append" && this.#feedback !== undefined && this.#feedback !== ""
        ? `${this.#feedback}\n${text}`
        : text;
    // Keep the newest text when it grows past the limit: the end is what a watcher wants to see.
    this.#feedback =
      next.length > LIMITS.feedbackChars ? next.slice(next.length - LIMITS.feedbackChars) : next;
    this.#dirty = true;
  }

  progress(fraction: number): void {
    if (!Number.isFinite(fraction)) throw new RangeError("progress must be a number from 0 to 1");
    this.#progress = Math.min(1, Math.max(0, fraction));
    this.#dirty = true;
  }

  log(line: string, at: Date): void {
    ({ logs: this.#logs, dropped: this.#logsDropped } = appendLogLines(
      this.#logs,
      this.#logsDropped,
      [line],
      at,
    ));
    this.#dirty = true;
    this.#logsChanged = true;
  }

  /**
   * The fields to write, and marks them written (the caller writes them or loses the claim).
   * `changedLogsOnly` (the flushes during an attempt) leaves the logs out unless lines came since
   * the last patch: a progress or feedback write then stays one small write, however long the
   * log (kept beside the run in its own item). The last patch of an attempt always has them.
   */
  takePatch(options: { changedLogsOnly?: boolean } = {}): RunPatch {
    const withLogs = options.changedLogsOnly !== true || this.#logsChanged;
    this.#dirty = false;
    this.#logsChanged = false;
    return {
      ...(this.#feedback === undefined ? {} : { feedback: this.#feedback }),
      ...(this.#progress === undefined ? {} : { progress: this.#progress }),
      ...(withLogs ? { logs: this.#logs } : {}),
      ...(withLogs && this.#logsDropped !== 0 ? { logsDropped: this.#logsDropped } : {}),
    };
  }
}
