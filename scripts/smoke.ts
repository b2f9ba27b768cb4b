/**
 * A smoke test of a running Baton: `npm run smoke -- --url <api url> --key <admin key>`.
 *
 * Checks health (three tries) and the key, registers the definition `baton-smoke` (the built-in `echo`
 * handler), starts a task, waits for it to succeed, and checks its output and that the list
 * shows it. Each step prints one line; the exit code is 0 when all pass and 1 at the first that
 * fails. Run it after `cdk deploy`, or against `npm run dev`. It leaves the definition and one
 * succeeded run behind.
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { BatonApiError, BatonClient, BatonWatchTimeoutError } from "../shared/client/index.ts";

export const SMOKE_DEFINITION = "baton-smoke";
const HEALTH_TRIES = 3;
const HEALTH_RETRY_MS = 1_000;

export interface SmokeOptions {
  url: string;
  key: string;
  timeoutMs?: number;
  /** Where lines go; stdout by default. */
  print?: (line: string) => void;
}

/** Runs every step; true when all passed. */
export async function smoke(options: SmokeOptions): Promise<boolean> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const client = new BatonClient({ url: options.url, key: options.key });
  const nonce = randomBytes(8).toString("hex");
  let taskId = "";
  const steps: Array<[string, () => Promise<string>]> = [
    [
      "health",
      async () => {
        // A few tries: a stack just deployed (cold functions) or busy may miss the health
        // check's 2 s budget once without anything being wrong.
        let last = "";
        for (let attempt = 1; attempt <= HEALTH_TRIES; attempt += 1) {
          if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, HEALTH_RETRY_MS));
          try {
            const health = await client.health();
            if (health.ok === true) return "GET /health answered ok";
            last = `GET /health answered ${JSON.stringify(health)}`;
          } catch (error) {
            last = error instanceof Error ? error.message : String(error);
          }
        }
        throw new Error(`${last} (${HEALTH_TRIES} tries)`);
      },
    ],
    [
      "key",
      async () => {
        const caller = await client.whoami();
        if (caller.role !== "admin") {
          throw new Error(
            `the key's role is ${caller.role}; the smoke test registers a definition, so it needs an admin key`,
          );
        }
        return `an admin key of tenant ${caller.tenant}`;
      },
    ],
    [
      "definition",
      async () => {
        const { created } = await client.putDefinition(SMOKE_DEFINITION, {
          handler: "echo",
          description: "npm run smoke: echoes its params",
          timeoutSeconds: 60,
        });
        return `${created ? "created" : "replaced"} ${SMOKE_DEFINITION}`;
      },
    ],
    [
      "start",
      async () => {
        const started = await client.startTask({ definition: SMOKE_DEFINITION, params: { smoke: nonce } });
        taskId = started.taskId;
        return `task ${taskId} ${started.status}`;
      },
    ],
    [
      "run",
      async () => {
        const started = Date.now();
        const run = await client.waitForEnd(taskId, { timeoutMs: options.timeoutMs ?? 60_000 });
        if (run.status !== "succeeded") {
          throw new Error(`task ${taskId} ended ${run.status}: ${JSON.stringify(run.error)}`);
        }
        const output = run.output as { smoke?: unknown } | null;
        if (output?.smoke !== nonce) throw new Error(`task ${taskId} answered ${JSON.stringify(run.output)}`);
        return `succeeded in ${((Date.now() - started) / 1000).toFixed(1)} s with the params as output`;
      },
    ],
    [
      "list",
      async () => {
        const page = await client.listTasks({ definition: SMOKE_DEFINITION, limit: 5 });
        if (!page.items.some((task) => task.taskId === taskId)) {
          throw new Error(`GET /v1/tasks?definition=${SMOKE_DEFINITION} does not show task ${taskId}`);
        }
        return `GET /v1/tasks lists task ${taskId}`;
      },
    ],
  ];
  for (const [name, step] of steps) {
    try {
      print(`ok    ${name.padEnd(10)} ${await step()}`);
    } catch (error) {
      print(`FAIL  ${name.padEnd(10)} ${describe(error)}`);
      return false;
    }
  }
  print("smoke test passed");
  return true;
}

function describe(error: unknown): string {
  if (error instanceof BatonWatchTimeoutError) {
    return `${error.message} (last status: ${error.last?.status ?? "unknown"}; is the worker consuming the run queue?)`;
  }
  if (error instanceof BatonApiError) return `${error.status} ${error.error}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

const USAGE = "usage: npm run smoke -- --url <api url> --key <admin key> [--timeout <seconds>]";

async function main(): Promise<number> {
  let values: { url?: string; key?: string; timeout?: string };
  try {
    ({ values } = parseArgs({
      options: { url: { type: "string" }, key: { type: "string" }, timeout: { type: "string" } },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const url = values.url ?? process.env.BATON_URL;
  const key = values.key ?? process.env.BATON_KEY;
  if (url === undefined || key === undefined) {
    process.stderr.write(`${USAGE}\n(or set BATON_URL and BATON_KEY)\n`);
    return 2;
  }
  const timeoutSeconds = values.timeout === undefined ? 60 : Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
    process.stderr.write(`--timeout must be a number of seconds\n${USAGE}\n`);
    return 2;
  }
  process.stdout.write(`smoke test of ${url}\n`);
  return (await smoke({ url, key, timeoutMs: timeoutSeconds * 1000 })) ? 0 : 1;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
