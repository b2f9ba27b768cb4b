/**
 * A run store that refuses any write of a terminal status made outside the engine's endRun, so
 * every test that runs a stack also proves "runs are ended in one place" (shared/app/engine.ts).
 */
import { isEndingWrite } from "../../shared/app/engine.ts";
import type { RunPatch, RunStore } from "../../shared/core/ports.ts";
import { isTerminal, type RunStatus } from "../../shared/core/run.ts";

export class TerminalWriteOutsideEngine extends Error {
  override readonly name = "TerminalWriteOutsideEngine";
}

function check(status: RunStatus | null | undefined, what: string): void {
  if (status !== undefined && status !== null && isTerminal(status) && !isEndingWrite()) {
    throw new TerminalWriteOutsideEngine(`${what} wrote status ${status} outside endRun`);
  }
}

export function guardTerminalWrites(store: RunStore): RunStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      if (property === "create") {
        return async (run: Parameters<RunStore["create"]>[0], extras?: Parameters<RunStore["create"]>[1]) => {
          check(run.status, "create");
          return target.create(run, extras);
        };
      }
      if (property === "handOff") {
        return async (...args: Parameters<RunStore["handOff"]>) => {
          check(args[0].patch.status, "handOff");
          check(args[1].patch.status, "handOff (the next run)");
          return target.handOff(...args);
        };
      }
      if (property === "update" || property === "transition") {
        return async (...args: [unknown, unknown, RunPatch, ...unknown[]]) => {
          check(args[2].status, String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
}
