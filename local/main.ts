/**
 * `baton dev` (and this repo's `npm run dev`, which adds --examples): the whole of Baton on
 * localhost, no Docker, no AWS account, running the handlers of the module given with --tasks.
 * State lives under BATON_DATA_DIR (default .baton/), so a restart loses nothing; one process
 * per data folder (dev-lock.ts); an edited handler module is reloaded in place.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ensureTenantKey } from "../shared/app/identity.ts";
import { HandlerRegistry, type TaskHandler } from "../shared/core/task.ts";
import { MIN_KEY_LENGTH, newApiKey } from "../shared/core/tenant.ts";
import { DataDirLockedError, lockDataDir } from "./dev-lock.ts";
import { type LoadedHandlers, loadHandlerModule, watchFiles } from "./handler-module.ts";
import { startLocalStack } from "./stack.ts";

const { values: flags } = parseArgs({
  options: {
    help: { type: "boolean", short: "h" },
    json: { type: "boolean" },
    tasks: { type: "string" },
    examples: { type: "boolean" },
  },
  strict: true,
});
if (flags.help) {
  console.log(`baton dev — Baton on localhost

Environment:
  PORT                 HTTP port of the API (default 3000)
  BATON_DATA_DIR       where state is kept (default .baton)
  BATON_DEV_KEY        admin key of tenant "dev" (default: generated once, kept in the data dir)
  BATON_ROOT_KEY       operator key for /v1/tenants (default: generated once, kept in the data dir)
  BATON_WORKERS        concurrent worker batches (default 4; 0 serves the API only)
  BATON_DYNAMODB_RESTARTS
                       how often a dead DynamoDB Local is restarted within 10 minutes before
                       this exits with status 1 (default 3)

Flags:
  --tasks <module>     the handlers to run: a module (TypeScript or JavaScript) whose default
                       export is an array of tasks made with defineTask, or a handler registry;
                       edits to it and the files it imports reload the worker
  --examples           also run the example handlers (echo, sleep, fail, …) that the docs use
  --json               print one JSON line {url, tenant, adminKey, rootKey, dataDir, handlers} once
                       started, and one {reloaded: [handlers]} or {reloadFailed: message} per reload`);
  process.exit(0);
}

function fail(message: string): never {
  console.error(`baton dev: ${message}`);
  process.exit(2);
}

let stopping = false;
let stack: Awaited<ReturnType<typeof startLocalStack>> | undefined;

/** Stops the stack (finishing runs in progress) and exits; a second call exits at once. */
async function shutdown(why?: string): Promise<void> {
  if (stopping) process.exit(1);
  stopping = true;
  console.log(`\nstopping${why === undefined ? "" : ` (${why})`}, finishing runs in progress…`);
  try {
    await stack?.stop();
    process.exit(0);
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
}

// Started by `baton dev` over an IPC channel: when that process dies — by any signal, SIGKILL
// too — the channel closes, and this one stops its emulators and exits rather than run on
// unseen, holding the port and the data folder.
if (process.connected) {
  process.channel?.unref();
  process.once("disconnect", () => {
    void shutdown("the baton dev process that started this one is gone");
  });
}

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535)
  fail(`PORT must be a port number, not "${process.env.PORT}"`);
const workers = Number(process.env.BATON_WORKERS ?? 4);
if (!Number.isInteger(workers) || workers < 0 || workers > 64)
  fail("BATON_WORKERS must be a whole number from 0 to 64");
const dynamoDbRestarts = Number(process.env.BATON_DYNAMODB_RESTARTS ?? 3);
if (!Number.isInteger(dynamoDbRestarts) || dynamoDbRestarts < 0 || dynamoDbRestarts > 100)
  fail("BATON_DYNAMODB_RESTARTS must be a whole number from 0 to 100");
const dataDir = resolve(process.env.BATON_DATA_DIR ?? ".baton");
mkdirSync(dataDir, { recursive: true });
try {
  const lock = lockDataDir(dataDir);
  process.on("exit", () => lock.release());
} catch (error) {
  if (error instanceof DataDirLockedError) fail(error.message);
  throw error;
}

const exampleTasks: TaskHandler<Record<string, unknown>>[] = flags.examples
  ? (await import("../examples/index.ts")).exampleTasks
  : [];
/** The module's handlers (and the files to watch), then the examples if asked for. */
async function loadHandlers(): Promise<{ registry: HandlerRegistry; files: string[] }> {
  const loaded: LoadedHandlers | undefined =
    flags.tasks === undefined ? undefined : await loadHandlerModule(flags.tasks);
  const tasks = loaded?.registry.keys().map((key) => loaded.registry.get(key)) ?? [];
  return {
    registry: new HandlerRegistry([...(tasks as TaskHandler<Record<string, unknown>>[]), ...exampleTasks]),
    files: loaded?.files ?? [],
  };
}
let handlers = await loadHandlers().catch((error: unknown) =>
  fail(`--tasks ${flags.tasks}: ${error instanceof Error ? error.message : String(error)}`),
);
const registry = handlers.registry;
if (registry.keys().length === 0)
  console.error(
    "baton dev: no handlers: give your module with --tasks <module> (or --examples for the examples)",
  );

/** A key from the environment, else the one generated on the first start and kept in the data dir. */
function persistentKey(envName: string, file: string): string {
  const fromEnv = process.env[envName];
  if (fromEnv !== undefined && fromEnv !== "") {
    if (fromEnv.length < MIN_KEY_LENGTH) fail(`${envName} must have at least ${MIN_KEY_LENGTH} characters`);
    return fromEnv;
  }
  const path = join(dataDir, file);
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const { key } = newApiKey();
  writeFileSync(path, `${key}\n`, { mode: 0o600 });
  return key;
}

const rootKey = persistentKey("BATON_ROOT_KEY", "root-key");
const devKey = persistentKey("BATON_DEV_KEY", "dev-key");
// Kept with the data, so file tokens handed out before a restart still work after it.
const fileTokenSecret = persistentKey("BATON_FILE_TOKEN_SECRET", "file-token-secret");
// The key that seals encrypted chain params (the local stand-in for a KMS key).
const encryptionKeyFile = join(dataDir, "encryption-key");
if (!existsSync(encryptionKeyFile))
  writeFileSync(encryptionKeyFile, randomBytes(32).toString("base64"), { mode: 0o600 });
const encryptionKey = Buffer.from(readFileSync(encryptionKeyFile, "utf8").trim(), "base64");

const SUMMARY_INTERVAL_MS = 60_000;

const startedAt = Date.now();
const running = await startLocalStack({
  registry,
  dataDir,
  port,
  rootKey,
  fileTokenSecret,
  encryptionKey,
  workerConcurrency: workers,
  runWorker: workers > 0,
  metricsFile: join(dataDir, "metrics.log"),
  maxDynamoDbRestarts: dynamoDbRestarts,
  // Without its database the API could only answer 503: say so and stop, so whoever runs this
  // (a person, a supervisor, a test) sees it at once. The state stays in the data folder.
  onEmulatorFailure: (error) => {
    console.error(
      `baton dev: ${error.message}\nbaton dev: stopping; the data in ${dataDir} is kept, start again with baton dev`,
    );
    process.exit(1);
  },
}).catch((error: unknown) =>
  fail(`could not start: ${error instanceof Error ? error.message : String(error)}`),
);
stack = running;
await ensureTenantKey(running.services, { tenant: "dev", role: "admin", key: devKey });

if (flags.json) {
  console.log(
    JSON.stringify({
      url: running.url,
      tenant: "dev",
      adminKey: devKey,
      rootKey,
      dataDir,
      handlers: registry.keys(),
    }),
  );
} else {
  console.log(`Baton is running (started in ${((Date.now() - startedAt) / 1000).toFixed(1)} s)

  API          ${running.url}
  dashboard    ${running.url}/   (sign in with the admin key)
  tenant       dev
  admin key    ${devKey}
  root key     ${rootKey}   (operator: POST /v1/tenants)
  handlers     ${registry.keys().join(", ")}
  data         ${dataDir}

  export BATON_URL=${running.url} BATON_KEY=${devKey}
  curl -s $BATON_URL/v1/tenant -H "Authorization: Bearer $BATON_KEY"

  metrics      ${join(dataDir, "metrics.log")}   (a summary is printed every minute with activity)

Stop with Ctrl-C.`);
}

// What ran in the last minute, in one line; every record is in metrics.log (see docs/observability.md).
const summaries = setInterval(() => {
  const summary = running.metrics.takeSummary();
  if (summary !== undefined) console.log(`${new Date().toISOString().slice(11, 19)} ${summary}`);
}, SUMMARY_INTERVAL_MS);
summaries.unref();

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => void shutdown());
}

// An edited handler: load the module afresh and hand the worker the new registry; emulators,
// tables, queues and runs stay. A module that no longer loads keeps the handlers that ran.
let watcher = watchFiles(handlers.files, () => void reload());
let reloading: Promise<void> = Promise.resolve();
function reload(): Promise<void> {
  reloading = reloading.then(async () => {
    if (stopping) return;
    let next: typeof handlers;
    try {
      next = await loadHandlers();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (flags.json) console.log(JSON.stringify({ reloadFailed: message }));
      else
        console.error(`baton dev: --tasks ${flags.tasks} did not load, the handlers before stay: ${message}`);
      return;
    }
    watcher.close();
    handlers = next;
    watcher = watchFiles(handlers.files, () => void reload());
    running.replaceRegistry(handlers.registry);
    const keys = handlers.registry.keys();
    if (flags.json) console.log(JSON.stringify({ reloaded: keys }));
    else console.log(`${new Date().toISOString().slice(11, 19)} reloaded handlers: ${keys.join(", ")}`);
  });
  return reloading;
}
