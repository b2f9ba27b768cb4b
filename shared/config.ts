/**
 * Configuration read from the environment, parsed once at cold start. The variable names are
 * shared with the CDK stack that sets them (infra/baton-stack.ts), so they cannot drift.
 */
import { z } from "zod";
import { hashKey, MIN_KEY_LENGTH } from "./core/tenant.ts";

export const ENV = {
  runsTable: "BATON_RUNS_TABLE",
  definitionsTable: "BATON_DEFINITIONS_TABLE",
  tenantsTable: "BATON_TENANTS_TABLE",
  keysTable: "BATON_KEYS_TABLE",
  countersTable: "BATON_COUNTERS_TABLE",
  chainsTable: "BATON_CHAINS_TABLE",
  grantsTable: "BATON_GRANTS_TABLE",
  destinationsTable: "BATON_DESTINATIONS_TABLE",
  filesBucket: "BATON_FILES_BUCKET",
  payloadsBucket: "BATON_PAYLOADS_BUCKET",
  fileTokenSecret: "BATON_FILE_TOKEN_SECRET",
  fileTokenSecretArn: "BATON_FILE_TOKEN_SECRET_ARN",
  kmsKeyId: "BATON_KMS_KEY_ID",
  runQueueUrl: "BATON_RUN_QUEUE_URL",
  fairRunQueueUrl: "BATON_FAIR_RUN_QUEUE_URL",
  delayQueueUrl: "BATON_DELAY_QUEUE_URL",
  scheduleGroup: "BATON_SCHEDULE_GROUP",
  triggerArn: "BATON_TRIGGER_ARN",
  schedulerRoleArn: "BATON_SCHEDULER_ROLE_ARN",
  scheduleDeadLetterArn: "BATON_SCHEDULE_DLQ_ARN",
  runRetentionDays: "BATON_RUN_RETENTION_DAYS",
  serviceName: "BATON_SERVICE_NAME",
  eventsUrl: "BATON_EVENTS_URL",
  rootKey: "BATON_ROOT_KEY",
  rootKeySha256: "BATON_ROOT_KEY_SHA256",
  leaseSeconds: "BATON_LEASE_SECONDS",
  flushIntervalMs: "BATON_FLUSH_INTERVAL_MS",
  region: "AWS_REGION",
  endpoint: "AWS_ENDPOINT_URL",
} as const;

/** The shortest file-token secret accepted: it is an HMAC key. */
export const MIN_FILE_TOKEN_SECRET_LENGTH = 32;
/** Ended runs are kept this long by default before DynamoDB's TTL deletes them (and S3 their files). */
export const DEFAULT_RUN_RETENTION_DAYS = 90;
/** Ten years: longer is "forever" in practice, and keeps the TTL arithmetic far from overflow. */
export const MAX_RUN_RETENTION_DAYS = 3650;

const Env = z.object({
  [ENV.runsTable]: z.string().min(1),
  [ENV.definitionsTable]: z.string().min(1),
  [ENV.tenantsTable]: z.string().min(1),
  [ENV.keysTable]: z.string().min(1),
  [ENV.countersTable]: z.string().min(1),
  [ENV.chainsTable]: z.string().min(1),
  [ENV.grantsTable]: z.string().min(1),
  [ENV.destinationsTable]: z.string().min(1),
  [ENV.filesBucket]: z.string().min(3),
  [ENV.payloadsBucket]: z.string().min(3).optional(),
  [ENV.fileTokenSecret]: z.string().min(MIN_FILE_TOKEN_SECRET_LENGTH).optional(),
  [ENV.fileTokenSecretArn]: z.string().startsWith("arn:").optional(),
  [ENV.kmsKeyId]: z.string().min(1).optional(),
  [ENV.runQueueUrl]: z.url(),
  [ENV.fairRunQueueUrl]: z.url(),
  [ENV.delayQueueUrl]: z.url().optional(),
  [ENV.scheduleGroup]: z.string().min(1).optional(),
  [ENV.triggerArn]: z.string().startsWith("arn:").optional(),
  [ENV.schedulerRoleArn]: z.string().startsWith("arn:").optional(),
  [ENV.scheduleDeadLetterArn]: z.string().startsWith("arn:").optional(),
  [ENV.runRetentionDays]: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_RUN_RETENTION_DAYS)
    .default(DEFAULT_RUN_RETENTION_DAYS),
  [ENV.eventsUrl]: z.url().optional(),
  [ENV.serviceName]: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default("baton"),
  [ENV.rootKey]: z.string().min(MIN_KEY_LENGTH).optional(),
  [ENV.rootKeySha256]: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  [ENV.leaseSeconds]: z.coerce.number().int().min(3).max(900).default(30),
  [ENV.flushIntervalMs]: z.coerce.number().int().min(50).max(60_000).default(1_000),
  [ENV.region]: z.string().min(1).default("us-east-1"),
  [ENV.endpoint]: z.url().optional(),
});

export interface BatonConfig {
  region: string;
  tables: {
    runs: string;
    definitions: string;
    tenants: string;
    keys: string;
    counters: string;
    chains: string;
    grants: string;
    destinations: string;
  };
  /** The FIFO run queue (runs on a named queue). */
  runQueueUrl: string;
  /** The fair run queue (every other run; an SQS standard queue, message group = tenant). */
  fairRunQueueUrl: string;
  filesBucket: string;
  /**
   * Run params and output above 256 KiB (claim check, shared/aws/payload-store.ts). Without it
   * they stay in DynamoDB, which refuses a payload near 400 KB (413).
   */
  payloadsBucket?: string;
  /** Signs file tokens (@FileToken@); without it, file tokens are refused. */
  fileTokenSecret?: string;
  /**
   * The Secrets Manager secret that holds `fileTokenSecret` (on AWS): `resolveSecrets` in
   * shared/compose.ts reads it once at cold start and puts its value in `fileTokenSecret`.
   */
  fileTokenSecretArn?: string;
  /** Seals encrypted chain params; without it, `encrypt: true` is refused. */
  kmsKeyId?: string;
  /** Delayed starts on AWS; absent locally, where the runtime polls the scheduled runs. */
  timers?: {
    delayQueueUrl: string;
    scheduleGroup: string;
    triggerArn: string;
    schedulerRoleArn: string;
    /** Where EventBridge Scheduler puts a firing it could not deliver (a standard SQS queue). */
    deadLetterArn?: string;
  };
  rootKeyHash?: string;
  leaseSeconds: number;
  flushIntervalMs: number;
  /** Days an ended run is kept before it expires (DynamoDB TTL on `expiresAt`). */
  runRetentionDays: number;
  /** The `service` of every log line and metric: tells two Baton stacks in one account apart. */
  serviceName: string;
  /** Where live event streams are served when not on the API's own URL (AWS: the events function URL). */
  eventsUrl?: string;
  /** One endpoint for every service (LocalStack); absent on AWS. */
  endpoint?: string;
}

function timersOf(e: z.infer<typeof Env>): Pick<BatonConfig, "timers"> {
  const delayQueueUrl = e[ENV.delayQueueUrl];
  const scheduleGroup = e[ENV.scheduleGroup];
  const triggerArn = e[ENV.triggerArn];
  const schedulerRoleArn = e[ENV.schedulerRoleArn];
  const given = [delayQueueUrl, scheduleGroup, triggerArn, schedulerRoleArn].filter(
    (v) => v !== undefined,
  ).length;
  if (given === 0) return {};
  if (
    delayQueueUrl === undefined ||
    scheduleGroup === undefined ||
    triggerArn === undefined ||
    schedulerRoleArn === undefined
  ) {
    throw new Error(
      `Baton configuration is invalid: set all of ${ENV.delayQueueUrl}, ${ENV.scheduleGroup}, ${ENV.triggerArn} and ${ENV.schedulerRoleArn}, or none`,
    );
  }
  const deadLetterArn = e[ENV.scheduleDeadLetterArn];
  return {
    timers: {
      delayQueueUrl,
      scheduleGroup,
      triggerArn,
      schedulerRoleArn,
      ...(deadLetterArn === undefined ? {} : { deadLetterArn }),
    },
  };
}

/** Parses the environment; throws one error naming every bad or missing variable. */
export function configFromEnv(env: Record<string, string | undefined>): BatonConfig {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new Error(`Baton configuration is invalid:\n  ${problems.join("\n  ")}`);
  }
  const e = parsed.data;
  if (e[ENV.fileTokenSecret] !== undefined && e[ENV.fileTokenSecretArn] !== undefined) {
    throw new Error(
      `Baton configuration is invalid: set ${ENV.fileTokenSecret} or ${ENV.fileTokenSecretArn}, not both`,
    );
  }
  const rootKey = e[ENV.rootKey];
  const rootKeyHash = e[ENV.rootKeySha256] ?? (rootKey === undefined ? undefined : hashKey(rootKey));
  return {
    region: e[ENV.region],
    tables: {
      runs: e[ENV.runsTable],
      definitions: e[ENV.definitionsTable],
      tenants: e[ENV.tenantsTable],
      keys: e[ENV.keysTable],
      counters: e[ENV.countersTable],
      chains: e[ENV.chainsTable],
      grants: e[ENV.grantsTable],
      destinations: e[ENV.destinationsTable],
    },
    runQueueUrl: e[ENV.runQueueUrl],
    fairRunQueueUrl: e[ENV.fairRunQueueUrl],
    filesBucket: e[ENV.filesBucket],
    ...(e[ENV.payloadsBucket] === undefined ? {} : { payloadsBucket: e[ENV.payloadsBucket] }),
    ...(e[ENV.fileTokenSecret] === undefined ? {} : { fileTokenSecret: e[ENV.fileTokenSecret] }),
    ...(e[ENV.fileTokenSecretArn] === undefined ? {} : { fileTokenSecretArn: e[ENV.fileTokenSecretArn] }),
    ...(e[ENV.kmsKeyId] === undefined ? {} : { kmsKeyId: e[ENV.kmsKeyId] }),
    ...timersOf(e),
    ...(rootKeyHash === undefined ? {} : { rootKeyHash }),
    leaseSeconds: e[ENV.leaseSeconds],
    flushIntervalMs: e[ENV.flushIntervalMs],
    runRetentionDays: e[ENV.runRetentionDays],
    serviceName: e[ENV.serviceName],
    ...(e[ENV.eventsUrl] === undefined ? {} : { eventsUrl: e[ENV.eventsUrl] }),
    ...(e[ENV.endpoint] === undefined ? {} : { endpoint: e[ENV.endpoint] }),
  };
}
