import type { StartRateDecision, StartRateStore } from "../core/ports.ts";
import { gcraDecide, gcraRule, microsOf, type StartRate } from "../core/start-rate.ts";

/** Each tenant's start-rate TAT in memory; a take is one synchronous step, so takes never interleave. */
export class MemoryStartRateStore implements StartRateStore {
  readonly #tatUs = new Map<string, number>();

  async take(tenant: string, rate: StartRate, now: Date): Promise<StartRateDecision> {
    const decision = gcraDecide(this.#tatUs.get(tenant), gcraRule(rate), microsOf(now));
    if (!decision.admitted) return { admitted: false, retryAfterSeconds: decision.retryAfterSeconds };
    this.#tatUs.set(tenant, decision.tatUs);
    return { admitted: true };
  }
}
