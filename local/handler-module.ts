/**
 * `baton dev --tasks <module>`: the user's handlers, loaded from TypeScript (or JavaScript) source
 * with tsx's loader, no build step. Every load imports the module and the files it imports afresh
 * (tsx gives each load its own namespace), which is what lets an edited handler be reloaded in
 * the running process.
 */
import { type FSWatcher, watch } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";
import type { HandlerRegistry } from "../shared/core/task.ts";
import { registryFromTaskModule } from "../shared/core/task-module.ts";

export interface LoadedHandlers {
  registry: HandlerRegistry;
  /** The module and the project files it imports (not node_modules): what an edit reloads. */
  files: string[];
}

/**
 * Loads a module whose default export is an array of tasks (`defineTask(...)`) or a handler
 * registry; a named `registry` export is accepted too (as this repo's tasks/index.ts has).
 */
export async function loadHandlerModule(modulePath: string): Promise<LoadedHandlers> {
  const path = resolve(modulePath);
  const files = new Set<string>([path]);
  const addFile = (file: string) => {
    if (!file.split(/[\\/]/).includes("node_modules")) files.add(file);
  };
  // A module in a CommonJS package (no "type": "module") is loaded through require, whose cache
  // tsx's namespaces do not reach: forget the previous load's entries so an edit is seen.
  for (const key of Object.keys(requireCache)) if (key.includes("?namespace=")) delete requireCache[key];
  const imported: Record<string, unknown> = await tsImport(pathToFileURL(path).href, {
    parentURL: import.meta.url,
    onImport: (url) => {
      if (url.startsWith("file:")) addFile(fileURLToPath(url.split("?")[0] ?? url));
    },
  });
  for (const key of Object.keys(requireCache))
    if (key.includes("?namespace=")) addFile(key.split("?")[0] ?? key);
  // CommonJS seen from ESM: the module's exports object is the default export.
  const commonJs = imported.default as Record<string, unknown> | undefined;
  const exported =
    commonJs !== null && typeof commonJs === "object" && "__esModule" in commonJs
      ? (commonJs.default ?? commonJs.registry)
      : (imported.default ?? imported.registry);
  return { registry: registryFromTaskModule({ default: exported }, path), files: [...files] };
}

const requireCache = createRequire(import.meta.url).cache;

/**
 * Calls `onChange` (once per burst of writes) when one of `files` changes. Watches their folders,
 * not the files, so an editor that saves by replacing the file is seen too. `close()` stops it.
 */
export function watchFiles(
  files: readonly string[],
  onChange: () => void,
  settleMs = 150,
): { close(): void } {
  const byFolder = new Map<string, Set<string>>();
  for (const file of files) {
    const names = byFolder.get(dirname(file)) ?? new Set<string>();
    names.add(basename(file));
    byFolder.set(dirname(file), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  for (const [folder, names] of byFolder) {
    try {
      const watcher = watch(folder, (_event, name) => {
        if (name !== null && !names.has(basename(String(name)))) return;
        clearTimeout(timer);
        timer = setTimeout(onChange, settleMs);
      });
      watcher.unref();
      watchers.push(watcher);
    } catch {
      // A folder that vanished: nothing there to reload.
    }
  }
  return {
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
