/**
 * The composition root: AWS adapters wired into Services. The Lambda handlers call it with the
 * parsed environment; the local runtime and the tests call it with emulator endpoints.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { monotonicFactory } from "ulid";
import { contextualLog } from "./app/log-context.ts";
import { type Services, systemClock, type UploadSettings } from "./app/services.ts";
import { AwsDefinitionScheduler } from "./aws/aws-definition-scheduler.ts";
import { AwsRunTimer, polledRunTimer } from "./aws/aws-run-timer.ts";
import { type AwsClientOptions, createAwsClients } from "./aws/clients.ts";
import { awsDependencyProbes } from "./aws/dependency-probes.ts";
import { DynamoBulkStore } from "./aws/dynamo-bulk-store.ts";
import { DynamoChainStore } from "./aws/dynamo-chain-store.ts";
import { DynamoCounterStore } from "./aws/dynamo-counter-store.ts";
import { DynamoDefinitionStore } from "./aws/dynamo-definition-store.ts";
import { DynamoDestinationStore } from "./aws/dynamo-destination-store.ts";
import { DynamoRunStore } from "./aws/dynamo-run-store.ts";
import { DynamoStartRateStore } from "./aws/dynamo-start-rate-store.ts";
import { DynamoTenantStore } from "./aws/dynamo-tenant-store.ts";
import { EmfMetrics } from "./aws/emf-metrics.ts";
import { KmsParamCrypto, noParamCrypto } from "./aws/param-crypto.ts";
import { S3PayloadStore } from "./aws/payload-store.ts";
import { S3FileStore } from "./aws/s3-file-store.ts";
import { createSecretsClient, readSecretString } from "./aws/secrets.ts";
import { SqsRunQueue } from "./aws/sqs-run-queue.ts";
import { type BatonConfig, ENV, MIN_FILE_TOKEN_SECRET_LENGTH } from "./config.ts";
import { ValidationError } from "./core/errors.ts";
import type { Clock, DefinitionScheduler, Log, Metrics, ParamCrypto } from "./core/ports.ts";
import type { HandlerRegistry } from "./core/task.ts";

export interface ComposeOptions {
  config: BatonConfig;
  registry: HandlerRegistry;
  /** Per-service endpoints (the local emulators); `config.endpoint` covers LocalStack. */
  endpoints?: AwsClientOptions["endpoints"];
  credentials?: AwsClientOptions["credentials"];
  callCounter?: AwsClientOptions["callCounter"];
  instrument?: AwsClientOptions["instrument"];
  log?: Log;
  /** Run metrics; CloudWatch EMF on stdout by default. */
  metrics?: Metrics;
  clock?: Clock;
  /** Seals chain params; defaults to KMS when the config names a key. */
  crypto?: ParamCrypto;
  /** Cron schedules; defaults to EventBridge Scheduler when the config has its settings. */
  scheduler?: DefinitionScheduler;
  /** Uploads to destinations; by default public addresses only, 10 s to connect. */
  uploads?: Partial<UploadSettings>;
}

export function composeServices(options: ComposeOptions): Services {
  const { config } = options;
  const endpoints =
    options.endpoints ??
    (config.endpoint === undefined
      ? undefined
      : { dynamodb: config.endpoint, sqs: config.endpoint, scheduler: config.endpoint, s3: config.endpoint });
  const clients = createAwsClients({
    region: config.region,
    ...(endpoints === undefined ? {} : { endpoints }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    ...(options.callCounter === undefined ? {} : { callCounter: options.callCounter }),
    ...(options.instrument === undefined ? {} : { instrument: options.instrument }),
  });
  const ulid = monotonicFactory();
  const clock = options.clock ?? systemClock;
  return {
    runs: new DynamoRunStore({
      client: clients.dynamo,
      tableName: config.tables.runs,
      countersTable: config.tables.counters,
      retentionDays: config.runRetentionDays,
      ...(config.payloadsBucket === undefined
        ? {}
        : { payloads: new S3PayloadStore({ client: clients.s3, bucket: config.payloadsBucket }) }),
    }),
    // A tenant's bulks are items of the runs table, under a partition of their own (see the store).
    bulks: new DynamoBulkStore({ client: clients.dynamo, tableName: config.tables.runs }),
    counters: new DynamoCounterStore({ client: clients.dynamo, tableName: config.tables.counters }),
    chains: new DynamoChainStore({
      client: clients.dynamo,
      chainsTable: config.tables.chains,
      grantsTable: config.tables.grants,
    }),
    definitions: new DynamoDefinitionStore({ client: clients.dynamo, tableName: config.tables.definitions }),
    tenants: new DynamoTenantStore({
      client: clients.dynamo,
      tenantsTable: config.tables.tenants,
      keysTable: config.tables.keys,
    }),
    // Each rate-limited tenant's bucket is one item in the runs table (see the store).
    startRates: new DynamoStartRateStore({ client: clients.dynamo, tableName: config.tables.runs }),
    queue: new SqsRunQueue({
      client: clients.sqs,
      fifoQueueUrl: config.runQueueUrl,
      fairQueueUrl: config.fairRunQueueUrl,
    }),
    files: new S3FileStore({ client: clients.s3, bucket: config.filesBucket }),
    destinations: new DynamoDestinationStore({
      client: clients.dynamo,
      tableName: config.tables.destinations,
    }),
    uploads: { allowPrivateAddresses: false, connectTimeoutMs: 10_000, ...options.uploads },
    crypto:
      options.crypto ??
      (config.kmsKeyId === undefined
        ? noParamCrypto
        : new KmsParamCrypto({ kms: clients.kms, keyId: config.kmsKeyId })),
    ...(config.fileTokenSecret === undefined ? {} : { fileTokenSecret: config.fileTokenSecret }),
    timer:
      config.timers === undefined
        ? polledRunTimer
        : new AwsRunTimer({
            sqs: clients.sqs,
            scheduler: clients.scheduler,
            delayQueueUrl: config.timers.delayQueueUrl,
            groupName: config.timers.scheduleGroup,
            targetArn: config.timers.triggerArn,
            roleArn: config.timers.schedulerRoleArn,
            ...(config.timers.deadLetterArn === undefined
              ? {}
              : { deadLetterArn: config.timers.deadLetterArn }),
            clock,
          }),
    scheduler:
      options.scheduler ??
      (config.timers === undefined
        ? unavailableScheduler
        : new AwsDefinitionScheduler({
            scheduler: clients.scheduler,
            groupName: config.timers.scheduleGroup,
            targetArn: config.timers.triggerArn,
            roleArn: config.timers.schedulerRoleArn,
            ...(config.timers.deadLetterArn === undefined
              ? {}
              : { deadLetterArn: config.timers.deadLetterArn }),
          })),
    dependencies: awsDependencyProbes({
      dynamo: clients.dynamo,
      tables: config.tables,
      sqs: clients.sqs,
      queueUrls: [config.runQueueUrl, config.fairRunQueueUrl],
      s3: clients.s3,
      bucket: config.filesBucket,
    }),
    registry: options.registry,
    clock,
    // Every line carries the keys of the run or request being processed (log-context.ts).
    log: contextualLog(options.log ?? new Logger({ serviceName: config.serviceName })),
    metrics: options.metrics ?? new EmfMetrics({ service: config.serviceName }),
    newId: () => ulid(),
    random: Math.random,
    ...(config.rootKeyHash === undefined ? {} : { rootKeyHash: config.rootKeyHash }),
    ...(config.eventsUrl === undefined ? {} : { eventsUrl: config.eventsUrl }),
    worker: { leaseSeconds: config.leaseSeconds, flushIntervalMs: config.flushIntervalMs },
  };
}

/**
 * The config with every secret it names by ARN read into it: on AWS the file-token secret lives
 * in Secrets Manager, never in a function's environment. The Lambda entry calls this once per
 * cold start, before `composeServices`; locally the secret is given as a value and nothing is read.
 */
export async function resolveSecrets(
  config: BatonConfig,
  options: { client?: SecretsManagerClient } = {},
): Promise<BatonConfig> {
  const { fileTokenSecretArn, ...rest } = config;
  if (fileTokenSecretArn === undefined) return config;
  const client =
    options.client ??
    createSecretsClient({
      region: config.region,
      ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    });
  const fileTokenSecret = await readSecretString(client, fileTokenSecretArn);
  // The same bar as a secret given in the environment: a short HMAC key is refused at cold start.
  if (fileTokenSecret.length < MIN_FILE_TOKEN_SECRET_LENGTH) {
    throw new Error(
      `Baton configuration is invalid: the secret in ${ENV.fileTokenSecretArn} is shorter than ${MIN_FILE_TOKEN_SECRET_LENGTH} characters`,
    );
  }
  return { ...rest, fileTokenSecret };
}

/** Without scheduler settings a cron schedule could never fire: refuse it rather than store it. */
const unavailableScheduler: DefinitionScheduler = {
  async put(definition) {
    if (definition.schedule !== undefined) {
      throw new ValidationError(
        "cron schedules need EventBridge Scheduler settings (BATON_SCHEDULE_GROUP and others)",
      );
    }
  },
  async remove() {},
};
