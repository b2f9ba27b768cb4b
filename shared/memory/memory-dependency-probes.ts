import { UnavailableError } from "../core/errors.ts";
import type { Dependency, DependencyProbes } from "../core/ports.ts";

/**
 * GET /health's probes in memory: every dependency answers, except those a test marks `down`
 * (refused at once) or `silent` (never answers; only the probe's signal ends the wait).
 */
export class MemoryDependencyProbes {
  readonly down = new Set<Dependency>();
  readonly silent = new Set<Dependency>();
  /** Probes made, per dependency: a test counts them to see the answer was cached. */
  readonly calls: Record<Dependency, number> = { dynamodb: 0, sqs: 0, s3: 0 };

  readonly probes: DependencyProbes = {
    dynamodb: (signal) => this.#probe("dynamodb", signal),
    sqs: (signal) => this.#probe("sqs", signal),
    s3: (signal) => this.#probe("s3", signal),
  };

  async #probe(dependency: Dependency, signal: AbortSignal): Promise<void> {
    this.calls[dependency] += 1;
    if (this.down.has(dependency)) throw new UnavailableError(dependency);
    if (!this.silent.has(dependency)) return;
    await new Promise<never>((_resolve, reject) => {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  }
}
