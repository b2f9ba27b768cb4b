/**
 * Run metrics as CloudWatch Embedded Metric Format, written by Powertools Metrics: one JSON line
 * per event on stdout, which CloudWatch Logs turns into metrics (no PutMetricData call, so the
 * functions need no permission beyond writing their logs).
 *
 * Each event is flushed at once rather than once per invocation: a worker invocation runs many
 * runs side by side, each with its own definition and task id, and a buffered flush would mix
 * them; a line written at once is also not lost when an invocation times out.
 */
import { Metrics as PowertoolsMetrics } from "@aws-lambda-powertools/metrics";
import type { EmfOutput } from "@aws-lambda-powertools/metrics/types";
import type { Metrics } from "../core/ports.ts";
import {
  RUN_METRICS,
  type RunLabels,
  type RunMetricName,
  type RunMetricValues,
} from "../core/run-metrics.ts";

const METRICS_NAMESPACE = "Baton";

export interface EmfMetricsOptions {
  namespace?: string;
  service?: string;
  /** Where a serialized EMF record goes instead of stdout (the local stack's metrics file). */
  write?: (record: EmfOutput) => void;
}

export class EmfMetrics implements Metrics {
  readonly #metrics: PowertoolsMetrics;
  readonly #write: ((record: EmfOutput) => void) | undefined;

  constructor(options: EmfMetricsOptions = {}) {
    this.#metrics = new PowertoolsMetrics({
      namespace: options.namespace ?? METRICS_NAMESPACE,
      serviceName: options.service ?? "baton",
    });
    this.#write = options.write;
  }

  /** Synchronous from first call to flush, so records of concurrent runs never interleave. */
  record(run: RunLabels, values: RunMetricValues): void {
    const metrics = this.#metrics;
    // Two dimension sets: per definition, and the service as a whole (for alarms on totals).
    metrics.addDimensions({ definition: run.definition });
    metrics.addDimensions({});
    // Searchable with CloudWatch Logs Insights, but no dimensions: they have too many values.
    metrics.addMetadata("tenant", run.tenant);
    metrics.addMetadata("taskId", run.taskId);
    if (run.attempt !== undefined) metrics.addMetadata("attempt", String(run.attempt));
    for (const [name, value] of Object.entries(values) as [RunMetricName, number | undefined][]) {
      if (value !== undefined) metrics.addMetric(name, RUN_METRICS[name], value);
    }
    if (this.#write === undefined) {
      metrics.publishStoredMetrics();
      return;
    }
    try {
      this.#write(metrics.serializeMetrics());
    } finally {
      metrics.clearMetrics();
      metrics.clearDimensions();
      metrics.clearMetadata();
    }
  }
}
