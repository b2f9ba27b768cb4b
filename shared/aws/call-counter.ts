/**
 * Counts AWS API calls by service and operation through an SDK middleware, for cost figures
 * (npm run bench) and tests that prove a path makes no more calls than it should.
 */
import type { InstrumentableClient } from "./instrument.ts";

export class AwsCallCounter {
  readonly #counts = new Map<string, number>();

  attach(client: InstrumentableClient): void {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const key = `${String(context.clientName).replace(/Client$/, "")}.${String(context.commandName).replace(/Command$/, "")}`;
        this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
        return next(args);
      },
      { step: "initialize", name: "batonCallCounter" },
    );
  }

  /** Calls so far, by "Service.Operation". */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.#counts.clear();
  }
}
