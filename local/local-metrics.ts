/**
 * Run metrics on localhost: the same EMF records the Lambdas write to CloudWatch, appended to a
 * file (`.baton/metrics.log` under `npm run dev`), plus running totals in memory for tests and a
 * one-line summary of the last interval for the console.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { EmfMetrics } from "../shared/aws/emf-metrics.ts";
import type { Metrics } from "../shared/core/ports.ts";
import {
  RUN_METRICS,
  type RunLabels,
  type RunMetricName,
  type RunMetricValues,
} from "../shared/core/run-metrics.ts";

export interface MetricTotal {
  /** How many values were recorded. */
  samples: number;
  /** Their sum: for a count, the count. */
  sum: number;
  min: number;
  max: number;
}

/** Durations kept per summary interval, at most; enough for a p99, bounded when nobody reads them. */
const MAX_WINDOW_SAMPLES = 10_000;

export class LocalMetrics implements Metrics {
  readonly #emf: EmfMetrics;
  readonly #file: WriteStream | undefined;
  readonly #totals = new Map<RunMetricName, MetricTotal>();
  #window = newWindow();

  readonly #onRecord: ((run: RunLabels, values: RunMetricValues) => void) | undefined;

  /** `onRecord` sees every record after it is counted (the bench counts successes per definition). */
  constructor(options: { file?: string; onRecord?: (run: RunLabels, values: RunMetricValues) => void } = {}) {
    this.#onRecord = options.onRecord;
    this.#file =
      options.file === undefined ? undefined : createWriteStream(options.file, { flags: "a", mode: 0o600 });
    const file = this.#file;
    // Without a file the EMF record is still built, so a local record is one CloudWatch accepts.
    this.#emf = new EmfMetrics({ write: (record) => file?.write(`${JSON.stringify(record)}\n`) });
  }

  record(run: RunLabels, values: RunMetricValues): void {
    this.#emf.record(run, values);
    for (const [name, value] of Object.entries(values) as [RunMetricName, number | undefined][]) {
      if (value === undefined) continue;
      const total = this.#totals.get(name);
      this.#totals.set(
        name,
        total === undefined
          ? { samples: 1, sum: value, min: value, max: value }
          : {
              samples: total.samples + 1,
              sum: total.sum + value,
              min: Math.min(total.min, value),
              max: Math.max(total.max, value),
            },
      );
      if (RUN_METRICS[name] === "Count") {
        this.#window.counts[name] = (this.#window.counts[name] ?? 0) + value;
        continue;
      }
      const window = this.#window.durations[name] ?? [];
      if (window.length < MAX_WINDOW_SAMPLES) window.push(value);
      this.#window.durations[name] = window;
    }
    this.#onRecord?.(run, values);
  }

  /** Everything recorded since the start, by metric. */
  totals(): Partial<Record<RunMetricName, MetricTotal>> {
    return Object.fromEntries(this.#totals);
  }

  /**
   * What happened since the last call, as one line (undefined if nothing did), e.g.
   * `runs: 12 started, 11 succeeded, 1 failed; queue wait p50 40 ms p99 310 ms; run time p50 1.2 s p99 3.4 s`.
   */
  takeSummary(): string | undefined {
    const { counts, durations } = this.#window;
    this.#window = newWindow();
    const parts = (
      [
        ["RunsStarted", "started"],
        ["RunsSucceeded", "succeeded"],
        ["RunsFailed", "failed"],
        ["RunsTimedOut", "timed out"],
        ["RunsCancelled", "cancelled"],
      ] as const
    )
      .filter(([name]) => (counts[name] ?? 0) > 0)
      .map(([name, label]) => `${counts[name]} ${label}`);
    if (parts.length === 0 && Object.keys(durations).length === 0) return undefined;
    const line = [`runs: ${parts.length === 0 ? "none started or ended" : parts.join(", ")}`];
    for (const [name, label] of [
      ["QueueWait", "queue wait"],
      ["RunTime", "run time"],
    ] as const) {
      const values = durations[name];
      if (values === undefined || values.length === 0) continue;
      line.push(
        `${label} p50 ${formatMs(percentile(values, 0.5))} p99 ${formatMs(percentile(values, 0.99))}`,
      );
    }
    return line.join("; ");
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    const file = this.#file;
    if (file === undefined) return;
    await new Promise<void>((resolve) => file.end(resolve));
  }
}

function newWindow(): {
  counts: Partial<Record<RunMetricName, number>>;
  durations: Partial<Record<RunMetricName, number[]>>;
} {
  return { counts: {}, durations: {} };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

function formatMs(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}
