/**
 * The handlers `baton dev` runs: the module `--tasks` names (TypeScript loads through tsx, which
 * `baton dev` registers), or, inside this repository, its own tasks/index.ts (the examples).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { HandlerRegistry } from "../shared/core/task.ts";
import { registryFromTaskModule } from "../shared/core/task-module.ts";

export async function loadTasks(module: string | undefined): Promise<HandlerRegistry> {
  if (module === undefined) {
    const own = fileURLToPath(new URL("../tasks/index.ts", import.meta.url));
    if (!existsSync(own)) throw new Error("name your handlers' module: baton dev --tasks src/tasks/index.ts");
    return registryFromTaskModule(await import(pathToFileURL(own).href), "tasks/index.ts");
  }
  const path = resolve(module);
  if (!existsSync(path)) throw new Error(`--tasks ${module}: no such file`);
  return registryFromTaskModule(await import(pathToFileURL(path).href), module);
}
