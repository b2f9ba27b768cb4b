/**
 * The whole system in one process: emulators (or given endpoints), tables and queues, the api
 * handler over HTTP and the worker handler driven from the queue. `npm run dev` and the
 * integration tests both start it; the handlers and adapters are the ones Lambda runs.
 */

import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { FailedAuthLimits } from "../functions/api/failed-auth-limiter.ts";
import { createApiHandler } from "../functions/api/handler.ts";
import { createEventsHandler, type EventsHandlerOptions } from "../functions/events/handler.ts";
import { createWorkerHandler } from "../functions/worker/handler.ts";
import { startDueRuns } from "../shared/app/engine.ts";
import { startScheduled } from "../shared/app/schedules.ts";
import type { Services } from "../shared/app/services.ts";
import { sweep } from "../shared/app/sweeper.ts";
import type { AwsCallCounter } from "../shared/aws/call-counter.ts";
import type { ClientInstrument } from "../shared/aws/instrument.ts";
import { LocalParamCrypto } from "../shared/aws/param-crypto.ts";
import { composeServices } from "../shared/compose.ts";
import { DEFAULT_RUN_RETENTION_DAYS } from "../shared/config.ts";
import type { Log, Metrics, RunStore } from "../shared/core/ports.ts";
import type { HandlerRegistry } from "../shared/core/task.ts";
import { hashKey } from "../shared/core/tenant.ts";
import { startTracing } from "../shared/observability/otel.ts";
import { ensureBucket, ensureRunQueues, ensureTables, type RunQueueUrls, tableNames } from "./bootstrap.ts";
import { type Emulators, LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from "./emulators.ts";
import { serveApi } from "./http-server.ts";
import { LocalMetrics } from "./local-metrics.ts";
import { LocalScheduler } from "./local-scheduler.ts";
import { SqsEventSource } from "./sqs-event-source.ts";

export interface LocalStackOptions {
  registry: HandlerRegistry;
  /** Use running emulators; else start them (persisting under `dataDir` if given). */
  endpoints?: { dynamodb: string; sqs: string };
  dataDir?: string;
  /** Emulators started here: how often a dead DynamoDB Local is restarted (see emulators.ts; default 3). */
  maxDynamoDbRestarts?: number;
  /**
   * Emulators started here: DynamoDB Local died and is not restarted, so nothing works any more.
   * Default: logged. `npm run dev` exits.
   */
  onEmulatorFailure?: (error: Error) => void;
  /** Prefix of table and queue names, so several stacks can share emulators (tests). */
  prefix?: string;
  /** HTTP port; 0 picks a free one. No server when null (a worker-only process). */
  port?: number | null;
  rootKey?: string;
  /** Signs file tokens; random per start when absent (tokens then die with the process). */
  fileTokenSecret?: string;
  /** The 32-byte key that seals encrypted chain params; random per start when absent. */
  encryptionKey?: Buffer;
  /**
   * Let destinations be on loopback and private addresses (default true: a server on your own
   * machine or network; the AWS deployment refuses them).
   */
  allowPrivateDestinations?: boolean;
  /** How long an upload may take to connect and log in (default 10 s). */
  uploadConnectTimeoutMs?: number;
  /** Concurrent worker batches per run queue, like concurrent Lambda invocations (default 4). */
  workerConcurrency?: number;
  /**
   * Runs per batch from the fair queue (1–10, default 10), like the stack's `workerBatchSize`. A
   * batch holds its invocation until its last run ends: smaller batches free invocations sooner,
   * so another tenant's run waits less behind a flood, at more invocations per run.
   */
  workerBatchSize?: number;
  /** Start the worker at once (default); false for an api-only process that may call startWorker() later. */
  runWorker?: boolean;
  leaseSeconds?: number;
  flushIntervalMs?: number;
  /** The event stream's poll interval and maximum duration (defaults: shared/app/run-watch.ts). */
  events?: EventsHandlerOptions;
  /** How often the sweeper runs, as EventBridge runs it on AWS (default 60 s; 0: never). */
  sweepIntervalMs?: number;
  /** How often due delayed starts are looked for, standing in for SQS delays and Scheduler (default 250 ms). */
  timerIntervalMs?: number;
  log?: Log;
  /** Failed authentications allowed per source address (default: functions/api/failed-auth-limiter.ts). */
  failedAuthLimits?: FailedAuthLimits;
  /** Where the run metrics' EMF records are appended (`npm run dev`: .baton/metrics.log); none when absent. */
  metricsFile?: string;
  /** Sees every run metric as it is recorded (the bench counts successes per definition with it). */
  onRunMetrics?: Metrics["record"];
  /** Runs per page of a bulk action (default BULK_LIMITS.pageSize); tests cross pages with few runs. */
  bulkPageSize?: number;
  /** Wraps the run store (tests check every write with it). */
  wrapRunStore?: (store: RunStore) => RunStore;
  /** Counts AWS calls: the api's, the worker's and the event source's (SQS bills Lambda's polling too). */
  callCounter?: AwsCallCounter;
  /** Sees every AWS client of the api, the worker and the event source, to add SDK middleware. */
  instrumentClient?: ClientInstrument;
}

export interface LocalStack {
  url: string;
  services: Services;
  /** Run metrics: totals since the start, a summary per interval (and the file, if one was named). */
  metrics: LocalMetrics;
  /** The cron schedules this process fires. */
  scheduler: LocalScheduler;
  endpoints: { dynamodb: string; sqs: string };
  /** The emulators this stack started; undefined when it was given endpoints. */
  emulators: Emulators | undefined;
  /** The run queues: `fifo` for runs on a named queue, `fair` for every other run. */
  queueUrls: RunQueueUrls;
  prefix: string;
  startWorker(): void;
  stopWorker(): Promise<void>;
  /**
   * Swaps the handlers (`baton dev` reloading an edited module): every delivery from now on runs
   * the new registry's handler and the api validates with it, while attempts in flight finish on
   * the handler they started with. The worker keeps polling: stopping it would abort receives,
   * and a message an aborted receive took stays invisible for the whole lease. Tables, queues
   * and emulators stay as they are.
   */
  replaceRegistry(registry: HandlerRegistry): void;
  stop(): Promise<void>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const log = options.log ?? defaultLog();
  const emulators =
    options.endpoints === undefined
      ? await startEmulators({
          ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
          ...(options.maxDynamoDbRestarts === undefined
            ? {}
            : { maxDynamoDbRestarts: options.maxDynamoDbRestarts }),
          log: (line) => log.warn(line),
          onFailure:
            options.onEmulatorFailure ??
            ((error) => log.error("the local stack cannot work any more", { error })),
        })
      : undefined;
  // OTEL_EXPORTER_OTLP_ENDPOINT set: the local stack exports traces like the Lambda functions do.
  const tracing = startTracing(process.env);
  try {
    const stack = await startOnEmulators({ ...options, log }, emulators);
    if (tracing === undefined) return stack;
    return {
      ...stack,
      async stop() {
        await stack.stop();
        await tracing.shutdown();
      },
    };
  } catch (error) {
    await tracing?.shutdown();
    // Never leave a DynamoDB Local process behind when, say, the port is taken.
    await emulators?.stop();
    throw error;
  }
}

async function startOnEmulators(
  options: LocalStackOptions,
  emulators: Emulators | undefined,
): Promise<LocalStack> {
  const endpoints = options.endpoints ?? {
    dynamodb: emulators?.dynamodbEndpoint ?? "",
    sqs: emulators?.sqsEndpoint ?? "",
  };
  const prefix = options.prefix ?? "baton-";
  const leaseSeconds = options.leaseSeconds ?? 30;
  const clientOptions = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamo = new DynamoDBClient({ ...clientOptions, endpoint: endpoints.dynamodb });
  // Every worker poller holds a socket for its long poll (two run queues, `workerConcurrency`
  // pollers each), and the SDK's default of 50 sockets would queue receives behind one another.
  const pollers = 2 * (options.workerConcurrency ?? 4);
  const sqs = new SQSClient({
    ...clientOptions,
    endpoint: endpoints.sqs,
    requestHandler: { httpAgent: { keepAlive: true, maxSockets: Math.max(50, pollers + 50) } },
  });
  // fauxqs serves S3 on the same endpoint as SQS.
  const filesBucket = `${prefix}files`;
  const payloadsBucket = `${prefix}payloads`;
  const s3 = new S3Client({ ...clientOptions, endpoint: endpoints.sqs, forcePathStyle: true });
  await ensureBucket(s3, filesBucket);
  await ensureBucket(s3, payloadsBucket);
  options.callCounter?.attach(sqs);
  options.instrumentClient?.(sqs);
  const tables = tableNames(prefix);
  await ensureTables(dynamo, tables);
  const queueUrls = await ensureRunQueues(sqs, {
    name: `${prefix}runs`,
    visibilityTimeoutSeconds: leaseSeconds,
  });
  const queueArnOf = async (queueUrl: string) =>
    (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] })))
      .Attributes?.QueueArn;
  const queueArns = { fifo: await queueArnOf(queueUrls.fifo), fair: await queueArnOf(queueUrls.fair) };

  const log = options.log ?? defaultLog();
  const scheduler = new LocalScheduler({
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    now: () => new Date(),
  });
  const metrics = new LocalMetrics({
    ...(options.metricsFile === undefined ? {} : { file: options.metricsFile }),
    ...(options.onRunMetrics === undefined ? {} : { onRecord: options.onRunMetrics }),
  });
  const composed = composeServices({
    config: {
      region: LOCAL_REGION,
      tables,
      runQueueUrl: queueUrls.fifo,
      fairRunQueueUrl: queueUrls.fair,
      filesBucket,
      payloadsBucket,
      fileTokenSecret: options.fileTokenSecret ?? randomBytes(32).toString("base64url"),
      ...(options.rootKey === undefined ? {} : { rootKeyHash: hashKey(options.rootKey) }),
      leaseSeconds,
      flushIntervalMs: options.flushIntervalMs ?? 500,
      // The same horizon as on AWS; DynamoDB Local keeps the attribute but never deletes by it.
      runRetentionDays: DEFAULT_RUN_RETENTION_DAYS,
      serviceName: "baton",
    },
    registry: options.registry,
    endpoints: { ...endpoints, s3: endpoints.sqs },
    credentials: LOCAL_CREDENTIALS,
    scheduler,
    crypto: new LocalParamCrypto(options.encryptionKey ?? randomBytes(32)),
    uploads: {
      allowPrivateAddresses: options.allowPrivateDestinations ?? true,
      ...(options.uploadConnectTimeoutMs === undefined
        ? {}
        : { connectTimeoutMs: options.uploadConnectTimeoutMs }),
    },
    ...(options.callCounter === undefined ? {} : { callCounter: options.callCounter }),
    ...(options.instrumentClient === undefined ? {} : { instrument: options.instrumentClient }),
    log,
    metrics,
  });
  const services = {
    ...composed,
    runs: options.wrapRunStore === undefined ? composed.runs : options.wrapRunStore(composed.runs),
    ...(options.bulkPageSize === undefined ? {} : { bulk: { pageSize: options.bulkPageSize } }),
  };

  let server: Server | undefined;
  let url = "";
  if (options.port !== null) {
    const api = createApiHandler(services, {
      ...(options.failedAuthLimits === undefined ? {} : { failedAuthLimits: options.failedAuthLimits }),
    });
    server = await serveApi(api, {
      port: options.port ?? 0,
      events: createEventsHandler(services, api, options.events ?? {}),
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  // One worker, two event source mappings, as on AWS; the record's queue ARN tells its lane.
  const handler = createWorkerHandler(services);
  const makeEventSources = () =>
    (["fair", "fifo"] as const).map(
      (lane) =>
        new SqsEventSource({
          client: sqs,
          queueUrl: queueUrls[lane],
          queueArn: queueArns[lane] ?? "",
          handler,
          log,
          concurrency: options.workerConcurrency ?? 4,
          ...(lane === "fair" && options.workerBatchSize !== undefined
            ? { batchSize: options.workerBatchSize }
            : {}),
        }),
    );
  let eventSources: SqsEventSource[] | undefined;
  const startWorker = () => {
    if (eventSources !== undefined) return;
    eventSources = makeEventSources();
    for (const source of eventSources) source.start();
  };
  const stopWorker = async () => {
    await Promise.all((eventSources ?? []).map((source) => source.stop()));
    eventSources = undefined;
  };
  if (options.runWorker ?? true) startWorker();

  // The scheduled runs are the local timers: persisted with the runs, fired from here when due.
  let firing: Promise<unknown> = Promise.resolve();
  let firingNow = false;
  const timerEvery = options.timerIntervalMs ?? 250;
  const timer =
    timerEvery > 0
      ? setInterval(() => {
          if (firingNow) return;
          firingNow = true;
          firing = Promise.all([
            startDueRuns(services, services.clock.now()),
            ...scheduler.due().map((firing) => startScheduled(services, firing)),
          ])
            .catch((error: unknown) => log.error("delayed starts failed", { error }))
            .finally(() => {
              firingNow = false;
            });
        }, timerEvery)
      : undefined;

  const sweepEvery = options.sweepIntervalMs ?? 60_000;
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweeper =
    sweepEvery > 0
      ? setInterval(() => {
          sweeping = sweep(services).catch((error: unknown) => log.error("sweep failed", { error }));
        }, sweepEvery)
      : undefined;

  return {
    url,
    services,
    metrics,
    scheduler,
    endpoints,
    emulators,
    queueUrls,
    prefix,
    startWorker,
    stopWorker,
    replaceRegistry(registry) {
      services.registry = registry;
    },
    async stop() {
      clearInterval(sweeper);
      clearInterval(timer);
      await firing;
      await sweeping;
      await stopWorker();
      if (server !== undefined) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server?.close(() => resolve()));
      }
      await metrics.close();
      dynamo.destroy();
      sqs.destroy();
      await emulators?.stop();
    },
  };
}

function defaultLog(): Log {
  return new Logger({ serviceName: "baton", logLevel: "WARN" });
}
