import type { Metrics } from "../core/ports.ts";
import type { RunLabels, RunMetricName, RunMetricValues } from "../core/run-metrics.ts";

/** Run metrics kept in memory as recorded, so a test can tell what was counted, and how often. */
export class MemoryMetrics implements Metrics {
  readonly #records: Array<{ run: RunLabels; values: RunMetricValues }> = [];

  record(run: RunLabels, values: RunMetricValues): void {
    this.#records.push({ run: { ...run }, values: { ...values } });
  }

  get records(): ReadonlyArray<{ run: RunLabels; values: RunMetricValues }> {
    return this.#records;
  }

  /** The sum of one metric's values, of one definition's runs or of all. */
  total(name: RunMetricName, filter: { definition?: string; taskId?: string } = {}): number {
    return this.#records
      .filter(
        ({ run }) =>
          (filter.definition === undefined || run.definition === filter.definition) &&
          (filter.taskId === undefined || run.taskId === filter.taskId),
      )
      .reduce((sum, { values }) => sum + (values[name] ?? 0), 0);
  }
}
