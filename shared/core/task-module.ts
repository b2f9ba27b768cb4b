/**
 * What a tasks module (`new Baton(…, { tasks })`, `baton dev --tasks`) may export, and how it
 * becomes the registry the api and the worker use.
 */
import { HandlerRegistry, type TaskHandler } from "./task.ts";

/**
 * A module of task handlers: its default export is an array of handlers (each made with
 * `defineTask`) or a `HandlerRegistry` of them. A module that exports a `registry` instead (the
 * `tasks/index.ts` of a Baton fork) is accepted too.
 *
 * @example
 * // src/tasks/index.ts
 * import resize from "./resize.ts";
 * import sendReport from "./send-report.ts";
 * export default [resize, sendReport];
 */
export interface TaskModule {
  // biome-ignore lint/suspicious/noExplicitAny: any handler's params type fits in the array.
  default?: readonly TaskHandler<any>[] | HandlerRegistry;
  registry?: HandlerRegistry;
}

interface RegistryLike {
  get(key: string): unknown;
  keys(): string[];
}

function isRegistryLike(value: unknown): value is RegistryLike {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as RegistryLike).get === "function" &&
    typeof (value as RegistryLike).keys === "function"
  );
}

function isHandler(value: unknown): value is TaskHandler {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as TaskHandler).handler === "string" &&
    typeof (value as TaskHandler).run === "function"
  );
}

/**
 * The module's handlers in a registry of this copy of Baton. A registry built with another copy
 * of the SDK (the package a project installed, beside the runtime bundled with it) is rebuilt
 * here, so the errors its params check throws are the ones the api knows.
 */
export function registryFromTaskModule(module: unknown, source: string): HandlerRegistry {
  const exports = (typeof module === "object" && module !== null ? module : {}) as Record<string, unknown>;
  const value = exports.default ?? exports.registry;
  let handlers: unknown[];
  if (Array.isArray(value)) handlers = value;
  else if (isRegistryLike(value)) handlers = value.keys().map((key) => value.get(key));
  else {
    throw new Error(
      `${source} must default-export an array of tasks (made with defineTask) or a HandlerRegistry`,
    );
  }
  handlers.forEach((handler, index) => {
    if (!isHandler(handler)) {
      throw new Error(`${source}: entry ${index} is not a task (defineTask({ handler, run }))`);
    }
  });
  return new HandlerRegistry(handlers as TaskHandler[]);
}
