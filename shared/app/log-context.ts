/**
 * The keys every log line carries while one thing is being processed: a run (tenant, taskId,
 * definition, attempt) in the worker, the sweeper and the trigger; a request (requestId, route,
 * then tenant once authenticated) in the api. The context follows the async call chain, so lines
 * logged deep inside a use case (chains, admission, workflows) carry it without a logger being
 * handed down; `contextualLog` adds it to every line of the Log it wraps.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Log } from "../core/ports.ts";

export type LogKeys = Record<string, unknown>;

const storage = new AsyncLocalStorage<LogKeys>();

/** Runs `fn` with `keys` added to the current context (a nested context keeps the outer keys). */
export function withLogContext<T>(keys: LogKeys, fn: () => T): T {
  return storage.run({ ...storage.getStore(), ...keys }, fn);
}

/** Adds keys learnt on the way (the tenant after authentication, the attempt after a claim). */
export function addLogContext(keys: LogKeys): void {
  const store = storage.getStore();
  if (store !== undefined) Object.assign(store, keys);
}

/**
 * A Log that puts the current context's keys on every line. They come first, so a line about
 * another run (a promoted waiting run, say) can still name that run's taskId explicitly.
 */
export function contextualLog(inner: Log): Log {
  const line =
    (level: keyof Log) =>
    (message: string, ...extra: LogKeys[]) => {
      const keys = storage.getStore();
      if (keys === undefined) inner[level](message, ...extra);
      else inner[level](message, { ...keys }, ...extra);
    };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}
