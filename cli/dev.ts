/**
 * `baton dev`: runs local/main.ts — the very program behind `npm run dev` — in a child Node with
 * tsx, so the local stack and the user's handlers (--tasks) are always today's source, never a
 * stale copy bundled into the CLI.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError } from "./exit-codes.ts";

export interface DevOptions {
  port?: number;
  dataDir?: string;
  workers?: number;
  json?: boolean;
  /** The handler module (path from `cwd`). */
  tasks?: string;
  examples?: boolean;
}

/**
 * The program to run and the folder its tsx comes from: inside the Baton repository, the source
 * local/main.ts (the nearest up from this file); installed as a package, the built dist/dev.mjs
 * beside this bundle's folder (tsx then loads only the project's TypeScript handlers).
 */
function devProgram(): { root: string; main: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  let folder = here;
  for (;;) {
    if (existsSync(join(folder, "local", "main.ts")))
      return { root: folder, main: join(folder, "local", "main.ts") };
    const parent = dirname(folder);
    if (parent === folder) break;
    folder = parent;
  }
  const packaged = join(here, "..", "dev.mjs");
  if (existsSync(packaged)) return { root: join(here, "..", ".."), main: packaged };
  throw new UsageError("baton dev: neither local/main.ts nor dist/dev.mjs was found beside the CLI");
}

/** Starts the local stack in the foreground and resolves with its exit code. */
export function runDev(options: DevOptions, env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major < 22 || (major === 22 && minor < 5)) {
    throw new UsageError(
      `baton dev needs Node >= 22.5 (for node:sqlite) but runs on ${process.versions.node}; ` +
        "run it as `npx baton dev` in the project, which uses the project's own Node 22",
    );
  }
  const { root, main } = devProgram();
  const tasks = options.tasks === undefined ? undefined : resolve(cwd, options.tasks);
  if (tasks !== undefined && !existsSync(tasks)) throw new UsageError(`--tasks: there is no file ${tasks}`);
  // tsx as a loader in the child Node (not the tsx CLI, whose extra process relays signals on a
  // timer): Ctrl-C and SIGTERM reach local/main.ts directly and it stops its stack cleanly.
  const tsxLoader = pathToFileURL(createRequire(join(root, "package.json")).resolve("tsx")).href;
  const childEnv = { ...env };
  if (options.port !== undefined) childEnv.PORT = String(options.port);
  if (options.dataDir !== undefined) childEnv.BATON_DATA_DIR = options.dataDir;
  if (options.workers !== undefined) childEnv.BATON_WORKERS = String(options.workers);
  const child = spawn(
    process.execPath,
    [
      "--import",
      tsxLoader,
      "--disable-warning=ExperimentalWarning",
      main,
      ...(options.json ? ["--json"] : []),
      ...(tasks === undefined ? [] : ["--tasks", tasks]),
      ...(options.examples ? ["--examples"] : []),
    ],
    // The IPC channel is the child's lifeline: it closes when this process dies, by any signal,
    // and the child then stops its emulators (local/main.ts).
    { stdio: ["inherit", "inherit", "inherit", "ipc"], env: childEnv, cwd },
  );
  // Ctrl-C reaches the child too (same process group); it stops cleanly and we follow its exit.
  // A SIGTERM sent to us alone is handed on.
  const onSigint = () => undefined;
  const onSigterm = () => child.kill("SIGTERM");
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      resolve(code ?? (signal === null ? 1 : 128 + 2));
    });
  });
}
