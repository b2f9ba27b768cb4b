/**
 * DynamoDB Local is a Java process of its own and can die while the local stack lives on. The
 * stack restarts it on the same port and data folder (a bounded number of times, each logged) and
 * works again with its data; past that bound `npm run dev` exits with status 1 and says why,
 * rather than answer 503 for ever.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, expect, it } from "vitest";
import { type LocalStack, startLocalStack } from "../../local/stack.ts";
import { ensureTenantKey } from "../../shared/app/identity.ts";
import { newApiKey } from "../../shared/core/tenant.ts";
import { RecordingLog } from "../../shared/memory/recording-log.ts";
import { waitFor } from "../support/stack.ts";
import { testRegistry } from "../support/test-tasks.ts";

const ROOT = join(import.meta.dirname, "..", "..");
let stack: LocalStack | undefined;
let dev: ChildProcess | undefined;

afterAll(async () => {
  if (dev?.exitCode === null) dev.kill("SIGKILL");
  await stack?.stop();
});

it("restarts a killed DynamoDB Local on its port and data folder, and the stack works on with its data", async () => {
  const log = new RecordingLog();
  stack = await startLocalStack({
    registry: testRegistry,
    dataDir: mkdtempSync(join(tmpdir(), "baton-emulator-restart-")),
    port: 0,
    log,
    leaseSeconds: 5,
    flushIntervalMs: 100,
    sweepIntervalMs: 0,
  });
  const running = stack;
  const key = newApiKey().key;
  await ensureTenantKey(running.services, { tenant: "acme", role: "admin", key });
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${running.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers
    return { status: response.status, body: (await response.json()) as any };
  };
  const ended = (taskId: string) =>
    waitFor(async () => {
      const { body } = await call("GET", `/v1/tasks/${taskId}`);
      return body.status === "succeeded" ? body : undefined;
    });
  expect((await call("PUT", "/v1/definitions/echo", { handler: "echo" })).status).toBe(201);
  const before = await call("POST", "/v1/tasks", { definition: "echo", params: { n: 1 } });
  await ended(before.body.taskId);

  const killed = running.emulators?.dynamodbPid();
  if (killed === undefined) throw new Error("the stack started no DynamoDB Local");
  process.kill(killed, "SIGKILL");

  // Back once /health finds every dependency again, served by a new process.
  await waitFor(
    async () => {
      const health = await fetch(`${running.url}/health`);
      const pid = running.emulators?.dynamodbPid();
      // The health answer may be cached for 2 s and the new process may exist before it serves:
      // back means the stack has said so too.
      const said = log.entries.some((entry) => entry.message.startsWith("DynamoDB Local is back"));
      return health.status === 200 && pid !== undefined && pid !== killed && said ? true : undefined;
    },
    60_000,
    "DynamoDB Local to be restarted",
  );
  const lines = log.entries.filter((entry) => entry.message.startsWith("DynamoDB Local"));
  expect(lines.map((entry) => [entry.level, entry.message])).toEqual([
    [
      "warn",
      expect.stringMatching(
        /^DynamoDB Local exited \(SIGKILL\); restarting it on port \d+ with the data in .+ \(restart 1 of 3 allowed within 10 minutes\)$/,
      ),
    ],
    ["warn", expect.stringMatching(/^DynamoDB Local is back on port \d+$/)],
  ]);
  // Same port, same data folder: the key, the definition and the finished run are all there.
  expect((await call("GET", `/v1/tasks/${before.body.taskId}`)).body).toMatchObject({
    status: "succeeded",
    output: { n: 1 },
  });
  const after = await call("POST", "/v1/tasks", { definition: "echo", params: { n: 2 } });
  expect(after.status).toBe(202);
  expect((await ended(after.body.taskId)).output).toEqual({ n: 2 });
}, 120_000);

it("npm run dev exits with status 1, saying why, when DynamoDB Local dies and may not be restarted", async () => {
  const tsx = pathToFileURL(createRequire(join(ROOT, "package.json")).resolve("tsx")).href;
  dev = spawn(
    process.execPath,
    ["--import", tsx, "--disable-warning=ExperimentalWarning", join(ROOT, "local", "main.ts"), "--json"],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        PORT: "0",
        BATON_DATA_DIR: mkdtempSync(join(tmpdir(), "baton-dev-dies-")),
        BATON_WORKERS: "0",
        BATON_DYNAMODB_RESTARTS: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const child = dev;
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (chunk) => {
      stdout += String(chunk);
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) resolve(JSON.parse(line).url);
    });
    child.on("exit", (code) => reject(new Error(`npm run dev exited ${code} while starting: ${stderr}`)));
  });
  // A DynamoDB Local just started may miss the health check's 2 s budget once on a busy machine.
  await waitFor(
    async () => ((await fetch(`${url}/health`)).status === 200 ? true : undefined),
    20_000,
    "/health 200",
  );

  // DynamoDB Local is its java child (fauxqs runs inside it).
  const java = execFileSync("pgrep", ["-P", String(child.pid), "java"], { encoding: "utf8" }).trim();
  expect(java).toMatch(/^\d+$/);
  process.kill(Number(java), "SIGKILL");

  expect(await exited).toBe(1);
  expect(stderr).toContain(
    "baton dev: DynamoDB Local exited (SIGKILL) and is not restarted: restarting it is turned off",
  );
  expect(stderr).toContain("start again with baton dev");
}, 120_000);
