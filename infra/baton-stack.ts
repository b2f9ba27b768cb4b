import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Token } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { RUN_QUEUE } from "../shared/aws/queues.ts";
import { ENV, MAX_RUN_RETENTION_DAYS } from "../shared/config.ts";
import { acknowledgeNagFindings } from "./nag.ts";
import { BatonOperations } from "./operations.ts";
import { BatonTables, type RunIndexUpgradeStage } from "./tables.ts";

/** Everything a deployment may tune, with safe defaults. */
export interface BatonProps {
  /** SHA-256 (hex) of the root API key; without it no root key is accepted. */
  rootKeySha256?: string;
  /**
   * The Secrets Manager secret whose string value (at least 32 characters) signs file tokens.
   * Default: one the stack generates. Only its ARN reaches the functions that mint or check file
   * tokens (api, worker, sweeper), which read it once per cold start.
   */
  fileTokenSecret?: secretsmanager.ISecret;
  /**
   * Most worker invocations each run queue's event source runs at once (2–1000): the fair queue's
   * and the named queues' (FIFO), so the worker takes up to twice this. Each takes a batch of up
   * to 10 runs, side by side (a named queue's one after another). Default 100. See
   * docs/operations.md ("Sizing concurrency").
   */
  workerMaxConcurrency?: number;
  /**
   * Runs per worker invocation from the fair queue (1–10). Default 10: fewest invocations and SQS
   * requests per run. A batch holds its invocation until its last run ends, so under one tenant's
   * flood another tenant's run waits for an invocation to free up; batches of 1 (with
   * workerMaxConcurrency raised to keep the same runs at once) shorten that wait about tenfold
   * (docs/PERFORMANCE.md, "Fairness between tenants"). Named queues keep batches of 10.
   */
  workerBatchSize?: number;
  /** Most trigger invocations the delay queue's event source runs at once (2–1000). Default 10. */
  triggerMaxConcurrency?: number;
  /**
   * Concurrency reserved for the api Lambda (at least 1): a run backlog can never take it, and the
   * api can never take more. The account must keep 100 unreserved on top. Default 100.
   */
  apiReservedConcurrency?: number;
  /**
   * Concurrency reserved for the events Lambda (GET /v1/tasks/{id}/events behind its function
   * URL): each open stream holds one invocation for up to five minutes, so this is the most
   * streams open at once; one more is answered 429 (the dashboard then polls). It comes out of the
   * account's unreserved concurrency like the api's. Default 20.
   */
  eventsReservedConcurrency?: number;
  /** The HTTP API's default route throttling (requests per second; burst). Default 500; 200. */
  apiThrottle?: { rateLimit: number; burstLimit: number };
  /**
   * Days an ended run is kept before DynamoDB's TTL deletes it; task files expire on the same
   * horizon (an S3 lifecycle rule, counted from each file's upload), claim-checked payloads that
   * long after PAYLOAD_RUN_HORIZON_DAYS. 1–3650. Default 90.
   */
  retentionDays?: number;
  /** Where every alarm notifies. Default: a topic the stack creates (its ARN is the AlarmTopicArn output). */
  alarmTopic?: sns.ITopic;
  /** The run queue backlog alarm's threshold on the age of its oldest message. Default 1 hour. */
  queueAgeAlarmThreshold?: Duration;
  /**
   * What happens to the tables, the files bucket, the params key and the file-token secret when
   * the stack is deleted. Default RETAIN (and DynamoDB deletion protection on); DESTROY suits a
   * throwaway stage (a bucket that still holds files must be emptied first).
   */
  removalPolicy?: RemovalPolicy;
  /**
   * A stage (1–5) of the staged upgrade of a stack deployed with the runs table's layout before
   * issue #14's, one index change per deploy (infra/tables.ts RUN_INDEX_UPGRADE;
   * docs/PERFORMANCE.md "Upgrading"). Default none: the current layout, what a new stack needs.
   */
  runIndexUpgradeStage?: RunIndexUpgradeStage;
  /**
   * Begins the names that must be fixed before deployment (the trigger function, the schedule
   * group, the params key's alias, the dashboard) and is the `service` of every log line and
   * metric. Letters, digits and hyphens. Default: the stack name, so two stacks (stages) fit in
   * one account and region. Changing it on a deployed stack replaces the schedule group, which
   * deletes every schedule in it.
   */
  namePrefix?: string;
  /**
   * OpenTelemetry traces (docs/observability.md#traces): every function exports its spans over
   * OTLP/HTTP to `endpoint` (e.g. a collector, or the ADOT Lambda layer's `http://localhost:4318`),
   * with `headers` (`key=value,…`: a vendor's API key; it lands in the functions' environment, so
   * prefer a collector that holds the key). Default: no tracing, at no cost.
   */
  tracing?: { endpoint: string; headers?: string };
}

/** Where the construct finds the project's handlers. */
export interface BatonConstructProps extends BatonProps {
  /**
   * The project's tasks module, e.g. `"src/tasks/index.ts"` (relative to `projectRoot`): its
   * default export is an array of tasks made with `defineTask`, or a `HandlerRegistry`. Exactly
   * this module, and what it imports, is bundled into the worker (which runs the handlers) and
   * the api (which checks a start's params against them).
   */
  tasks: string;
  /**
   * The folder paths are relative to, whose node_modules the bundles are built from. Default:
   * the current folder (where `cdk synth` runs, the project's root).
   */
  projectRoot?: string;
  /** The project's lock file. Default: the nearest one up from the current folder. */
  depsLockFilePath?: string;
}

export interface BatonStackProps extends StackProps, BatonProps {
  /** The tasks module (see BatonConstructProps.tasks). Default: this repository's tasks/index.ts. */
  tasks?: string;
  projectRoot?: string;
  depsLockFilePath?: string;
  /** An existing secret by its complete ARN, for `cdk deploy -c` (a construct user passes `fileTokenSecret`). */
  fileTokenSecretArn?: string;
  /** An existing topic by its ARN, for `cdk deploy -c` (a construct user passes `alarmTopic`). */
  alarmTopicArn?: string;
}

/** The defaults of BatonProps (docs/operations.md explains the sizing). */
export const BATON_DEFAULTS = {
  workerMaxConcurrency: 100,
  workerBatchSize: 10,
  triggerMaxConcurrency: 10,
  apiReservedConcurrency: 100,
  eventsReservedConcurrency: 20,
  apiThrottle: { rateLimit: 500, burstLimit: 200 },
  retentionDays: 90,
  queueAgeAlarmThreshold: Duration.hours(1),
  removalPolicy: RemovalPolicy.RETAIN,
} as const;

/**
 * Where Baton's own files are. Run from this repository (tsx), the construct is infra/baton-stack.ts
 * and the runtime is the TypeScript source; installed as a package, the construct is bundled into
 * dist/cdk/index.mjs and the runtime is dist/lambda.mjs (built with the SDK, so a handler's
 * `import { NonRetriableError } from "baton"` is the very class the worker sees).
 */
const PACKAGED = import.meta.url.endsWith(".mjs");
const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const LAMBDA_RUNTIME = fileURLToPath(
  new URL(PACKAGED ? "../lambda.mjs" : "../functions/lambda.ts", import.meta.url),
);
/**
 * The dashboard's files. functions/api/dashboard.ts reads them from `./dashboard/` beside itself,
 * which in the bundle is beside index.mjs: so they are copied there.
 */
const DASHBOARD_DIR = fileURLToPath(
  new URL(PACKAGED ? "../dashboard" : "../functions/api/dashboard", import.meta.url),
);

const LOG_RETENTION = logs.RetentionDays.ONE_MONTH;
/** HTTP APIs cut every integration at 30 s, so the api Lambda stops just before. */
const API_TIMEOUT = Duration.seconds(29);
/** Longer than a stream's maximum (EVENTS_MAX_STREAM_MS, 5 minutes), which ends it cleanly first. */
const EVENTS_TIMEOUT = Duration.minutes(6);
export const WORKER_TIMEOUT = Duration.minutes(15);
/**
 * Must exceed the worker timeout, or SQS re-delivers a message while its batch is still running.
 * Deliberately not AWS's "six times the function timeout" (90 minutes): that margin is for an
 * event source retrying a throttled invocation while the batch stays hidden. Here the cap on the
 * event source (maxConcurrency) keeps it from invoking past its share, a running run's message
 * is kept hidden by the worker's heartbeat (ChangeMessageVisibility every lease/3), and a message
 * that shows again early is only a duplicate delivery, which the conditional claim makes
 * harmless. A longer timeout would cost something real: after a worker crash, or a message left
 * to "the visibility timeout" after an infrastructure error, its FIFO group stays blocked until
 * the timeout ends. docs/operations.md ("Visibility timeout") has the whole argument.
 */
const RUN_QUEUE_VISIBILITY = Duration.minutes(16);
/** Heartbeats come every lease/3 (10 s), which is also how fast a cancel reaches a running handler. */
const LEASE_SECONDS = 30;
export const SWEEPER_TIMEOUT = Duration.minutes(5);
/** The sweeper runs this often; a failed sweep is simply retried by the next one. */
const SWEEP_INTERVAL = Duration.minutes(1);
/**
 * A sweep not started within two minutes is overtaken by the next ones: Lambda drops it (to the
 * async failure queue) rather than run it late.
 */
const SWEEP_MAX_EVENT_AGE = Duration.minutes(2);
export const TRIGGER_TIMEOUT = Duration.minutes(1);
/**
 * Must exceed the trigger timeout. It is also how soon a "not due yet" start comes back; the
 * sweeper starts any overdue run sooner anyway.
 */
const DELAY_QUEUE_VISIBILITY = Duration.minutes(2);
/** Delayed starts wait at most 15 minutes in the queue; the rest is slack for retries. */
const DELAY_QUEUE_RETENTION = Duration.days(4);
/** A standard queue's DLQ keeps the original enqueue time, so it must keep messages longer. */
const DELAY_DLQ_RETENTION = Duration.days(14);
const DELAY_QUEUE_MAX_RECEIVES = 5;
/**
 * The trigger's own retries of a failed asynchronous invocation (a schedule's firing), over at
 * most an hour, like EventBridge Scheduler's retries before it; then the async failure queue.
 * Every firing is idempotent, so a retry never starts a run twice.
 */
const TRIGGER_ASYNC_RETRIES = 2;
const TRIGGER_MAX_EVENT_AGE = Duration.hours(1);
/** The dead-letter queues of asynchronous deliveries keep a failure this long for a look and a redrive. */
const FAILURE_RETENTION = Duration.days(14);
/** The generated file-token secret: letters and digits (no quoting trouble), about 380 bits. */
const FILE_TOKEN_SECRET_LENGTH = 64;
/**
 * How long a claim-checked payload (shared/aws/payload-store.ts) may be needed before its run
 * ends: a start delayed a year, then 20 attempts each waiting up to 7 days for a callback, and a
 * month to spare. Payload objects expire this long plus `retentionDays` after they are written,
 * so the object of a run that DynamoDB still holds is there (a run unfinished for longer — one
 * left waiting in a limited line for over a year — would find its payload gone).
 */
export const PAYLOAD_RUN_HORIZON_DAYS = 365 + 20 * 7 + 30;
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: "$context.requestId",
    time: "$context.requestTime",
    ip: "$context.identity.sourceIp",
    method: "$context.httpMethod",
    path: "$context.path",
    status: "$context.status",
    protocol: "$context.protocol",
    responseLength: "$context.responseLength",
    latencyMs: "$context.responseLatency",
    integrationLatencyMs: "$context.integrationLatency",
    integrationError: "$context.integrationErrorMessage",
    error: "$context.error.message",
  }),
);
/** Lambda function and schedule group names both allow 64 characters. */
const MAX_NAME_LENGTH = 64;

/**
 * Baton in a stack of your CDK app: the HTTP API, the queues, the tables, the files bucket, the
 * five functions (api, events, worker, trigger, sweeper) with your handlers bundled in, the schedules,
 * alarms and dashboard. One per stack (its fixed names begin with the stack name by default).
 *
 * @example
 * import { Baton } from "baton/cdk";
 * new Baton(stack, "Baton", { tasks: "src/tasks/index.ts", workerMaxConcurrency: 50 });
 */
export class Baton extends Construct {
  readonly api: apigwv2.HttpApi;
  /** Runs on a named queue: FIFO, one message group per queue. */
  readonly runQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** Every other run: a standard queue read as an SQS fair queue (message group = tenant). */
  readonly fairRunQueue: sqs.Queue;
  readonly fairDeadLetterQueue: sqs.Queue;
  readonly bucket: s3.Bucket;
  /** Run params and output above 256 KiB (claim check); only Baton's functions read or write it. */
  readonly payloadsBucket: s3.Bucket;
  readonly tables: BatonTables;
  readonly apiFunction: NodejsFunction;
  /** Streams GET /v1/tasks/{id}/events (Server-Sent Events) behind `eventsUrl`. */
  readonly eventsFunction: NodejsFunction;
  /**
   * The events URL: a function URL with response streaming, since an HTTP API cannot stream. Auth
   * NONE at the URL: Baton's own keys and read tokens are checked in the handler.
   */
  readonly eventsUrl: lambda.FunctionUrl;
  readonly workerFunction: NodejsFunction;
  readonly sweeperFunction: NodejsFunction;
  readonly sweepRule: events.Rule;
  /** Delayed starts of up to 15 minutes (DelaySeconds), consumed by the trigger. */
  readonly delayQueue: sqs.Queue;
  readonly delayDeadLetterQueue: sqs.Queue;
  /**
   * Firings EventBridge could not hand to Lambda: a schedule's (Scheduler, after its retry policy)
   * or the sweep rule's. Standard, as both services require.
   */
  readonly scheduleDeadLetterQueue: sqs.Queue;
  /** Asynchronous trigger and sweeper invocations that failed after Lambda's own retries. */
  readonly asyncFailureQueue: sqs.Queue;
  readonly triggerFunction: NodejsFunction;
  /** Holds the one-time (longer delays) and recurring (cron) schedules, all targeting the trigger. */
  readonly scheduleGroup: scheduler.CfnScheduleGroup;
  /** What EventBridge Scheduler assumes to invoke the trigger; it may do nothing else. */
  readonly schedulerRole: iam.Role;
  /** Seals chain params (envelope encryption): the key-encryption key of every sealed value. */
  readonly paramsKey: kms.Key;
  /** Signs file tokens; read at cold start by the api, the worker and the sweeper. */
  readonly fileTokenSecret: secretsmanager.ISecret;
  /** Every alarm notifies it. */
  readonly alarmTopic: sns.ITopic;
  readonly operations: BatonOperations;

  /** The generated Lambda entry: the tasks module and Baton's runtime, nothing else. */
  readonly lambdaEntry: string;
  readonly #projectRoot: string;
  readonly #depsLockFilePath: string | undefined;

  constructor(scope: Construct, id: string, props: BatonConstructProps) {
    super(scope, id);
    const settings = settingsOf(props, Stack.of(this).stackName);
    this.#projectRoot = resolve(props.projectRoot ?? process.cwd());
    this.#depsLockFilePath = props.depsLockFilePath;
    this.lambdaEntry = lambdaEntry(this.#projectRoot, props.tasks);
    const { rootKeySha256, namePrefix, removalPolicy, retentionDays } = settings;

    this.tables = new BatonTables(this, "Tables", {
      removalPolicy,
      runIndexUpgradeStage: props.runIndexUpgradeStage,
    });

    this.deadLetterQueue = new sqs.Queue(this, "RunDeadLetterQueue", {
      fifo: true,
      retentionPeriod: Duration.seconds(RUN_QUEUE.retentionSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.runQueue = new sqs.Queue(this, "RunQueue", {
      fifo: true,
      // Every producer sets a deduplication id; hashing bodies would merge distinct runs.
      contentBasedDeduplication: false,
      // High-throughput FIFO: limits apply per message group (one group per tenant queue or run).
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      maxMessageSizeBytes: RUN_QUEUE.maximumMessageSizeBytes,
      retentionPeriod: Duration.seconds(RUN_QUEUE.retentionSeconds),
      visibilityTimeout: RUN_QUEUE_VISIBILITY,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: RUN_QUEUE.maxReceiveCount },
    });
    // A standard queue whose messages carry the tenant as MessageGroupId is an SQS fair queue:
    // nothing to configure on the queue itself. When one tenant has a backlog, SQS hands out the
    // other tenants' messages first, so one tenant's flood does not delay another's runs.
    this.fairDeadLetterQueue = new sqs.Queue(this, "FairRunDeadLetterQueue", {
      retentionPeriod: Duration.seconds(RUN_QUEUE.retentionSeconds),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.fairRunQueue = new sqs.Queue(this, "FairRunQueue", {
      maxMessageSizeBytes: RUN_QUEUE.maximumMessageSizeBytes,
      retentionPeriod: Duration.seconds(RUN_QUEUE.retentionSeconds),
      visibilityTimeout: RUN_QUEUE_VISIBILITY,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.fairDeadLetterQueue, maxReceiveCount: RUN_QUEUE.maxReceiveCount },
    });

    // Task files. They expire on the runs' horizon: a run's files are written while it runs, so
    // none outlives its run by much.
    this.bucket = new s3.Bucket(this, "Files", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy,
      lifecycleRules: [
        {
          id: "expire-with-runs",
          expiration: Duration.days(retentionDays),
          // lib-storage aborts a failed multipart upload itself; this catches a worker that died.
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    // Params and output too large for an item, in a bucket of their own: their lifecycle must
    // outlast any run, where task files expire on the runs' horizon from upload. Objects are
    // written before the item that points to them; one nothing points to (a write that failed
    // after the put) is deleted by the same rule.
    this.payloadsBucket = new s3.Bucket(this, "Payloads", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy,
      lifecycleRules: [
        { id: "expire-after-runs", expiration: Duration.days(retentionDays + PAYLOAD_RUN_HORIZON_DAYS) },
      ],
    });

    // Standard, not FIFO: only a standard queue takes a per-message DelaySeconds.
    this.delayDeadLetterQueue = new sqs.Queue(this, "DelayDeadLetterQueue", {
      retentionPeriod: DELAY_DLQ_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.delayQueue = new sqs.Queue(this, "DelayQueue", {
      retentionPeriod: DELAY_QUEUE_RETENTION,
      visibilityTimeout: DELAY_QUEUE_VISIBILITY,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.delayDeadLetterQueue, maxReceiveCount: DELAY_QUEUE_MAX_RECEIVES },
    });
    this.scheduleDeadLetterQueue = new sqs.Queue(this, "ScheduleDeadLetterQueue", {
      retentionPeriod: FAILURE_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    this.asyncFailureQueue = new sqs.Queue(this, "AsyncFailureQueue", {
      retentionPeriod: FAILURE_RETENTION,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    // Sealed chain params and destination credentials: each value is encrypted with its own data
    // key (GenerateDataKey) and only that data key is encrypted by this key, bound to {tenant,
    // taskId, param} (or {tenant, destination, credential}) as encryption context.
    // Retained by default, like the files: sealed values stored in runs and chains must stay
    // readable after the stack is gone. The key policy keeps CDK's default (the account root, which
    // lets IAM policies grant access); the functions get their two actions through their roles below.
    this.paramsKey = new kms.Key(this, "ParamsKey", {
      description: `Baton (${namePrefix}): seals chain params (envelope encryption)`,
      enableKeyRotation: true,
      removalPolicy,
      alias: `alias/${namePrefix}-params`,
    });

    this.fileTokenSecret =
      props.fileTokenSecret ??
      new secretsmanager.Secret(this, "FileTokenSecret", {
        description: `Baton (${namePrefix}): signs file tokens`,
        generateSecretString: { passwordLength: FILE_TOKEN_SECRET_LENGTH, excludePunctuation: true },
        removalPolicy,
      });

    const scheduleGroupName = physicalName(namePrefix, "baton");
    this.scheduleGroup = new scheduler.CfnScheduleGroup(this, "ScheduleGroup", { name: scheduleGroupName });
    // The trigger's ARN goes into every function's environment, its own included: taken from a
    // name fixed before deployment rather than the function itself, it is no reference and so no
    // cycle. The name stays the same for a deployed stack: existing schedules target it.
    const triggerName = physicalName(namePrefix, "trigger");
    const triggerArn = Stack.of(this).formatArn({
      service: "lambda",
      resource: "function",
      resourceName: triggerName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.schedulerRole = new iam.Role(this, "SchedulerRole", {
      description: "Lets EventBridge Scheduler invoke the Baton trigger",
      // Only schedules of this account's Baton group may use it (confused-deputy protection).
      assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com", {
        conditions: {
          StringEquals: {
            "aws:SourceAccount": Stack.of(this).account,
            "aws:SourceArn": Stack.of(this).formatArn({
              service: "scheduler",
              resource: "schedule-group",
              resourceName: scheduleGroupName,
            }),
          },
        },
      }),
    });
    // Scheduler sends a firing it gave up on to the schedule's dead-letter queue as this role.
    this.scheduleDeadLetterQueue.grantSendMessages(this.schedulerRole);

    const environment: Record<string, string> = {
      ...this.tables.environment(),
      [ENV.runQueueUrl]: this.runQueue.queueUrl,
      [ENV.fairRunQueueUrl]: this.fairRunQueue.queueUrl,
      // All four or none: the shared config refuses a partial set.
      [ENV.delayQueueUrl]: this.delayQueue.queueUrl,
      [ENV.scheduleGroup]: scheduleGroupName,
      [ENV.triggerArn]: triggerArn,
      [ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
      [ENV.scheduleDeadLetterArn]: this.scheduleDeadLetterQueue.queueArn,
      // Every function: they share one config, which requires it.
      [ENV.filesBucket]: this.bucket.bucketName,
      [ENV.payloadsBucket]: this.payloadsBucket.bucketName,
      [ENV.leaseSeconds]: String(LEASE_SECONDS),
      // Without it the functions refuse encrypted params; with it each may seal and open them.
      [ENV.kmsKeyId]: this.paramsKey.keyArn,
      [ENV.runRetentionDays]: String(retentionDays),
      [ENV.serviceName]: namePrefix,
      ...(rootKeySha256 === undefined ? {} : { [ENV.rootKeySha256]: rootKeySha256 }),
      ...(props.tracing === undefined
        ? {}
        : {
            OTEL_EXPORTER_OTLP_ENDPOINT: props.tracing.endpoint,
            OTEL_SERVICE_NAME: namePrefix,
            ...(props.tracing.headers === undefined
              ? {}
              : { OTEL_EXPORTER_OTLP_HEADERS: props.tracing.headers }),
          }),
      NODE_OPTIONS: "--enable-source-maps",
    };
    // Only the secret's ARN, and only where file tokens are minted (a chain hand-off when a run
    // ends: api callbacks, worker, sweeper) or checked (api).
    const withFileTokens = { ...environment, [ENV.fileTokenSecretArn]: this.fileTokenSecret.secretArn };

    this.apiFunction = this.batonFunction("Api", {
      handler: "api",
      memorySize: 512,
      timeout: API_TIMEOUT,
      environment: withFileTokens,
      // A run backlog can never take the api's concurrency, and the api can never take the rest.
      reservedConcurrentExecutions: settings.apiReservedConcurrency,
    });
    // Starts update admission counters in the same transaction as the run. Admins manage chain
    // records, access grants and upload destinations through the API.
    this.tables.grantReadWrite(
      this.apiFunction,
      "runs",
      "definitions",
      "tenants",
      "keys",
      "counters",
      "chains",
      "grants",
      "destinations",
    );
    // GET /health also reads each run queue's attributes to tell whether SQS answers.
    this.grantSendRuns(this.apiFunction, ["sqs:GetQueueAttributes"]);
    // Delayed starts: up to 15 minutes through the delay queue, longer through one-time schedules;
    // definitions keep their recurring (cron) schedules in the same group.
    this.delayQueue.grantSendMessages(this.apiFunction);
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          "scheduler:CreateSchedule",
          "scheduler:UpdateSchedule",
          "scheduler:DeleteSchedule",
          "scheduler:GetSchedule",
        ],
        resources: [
          Stack.of(this).formatArn({
            service: "scheduler",
            resource: "schedule",
            resourceName: `${scheduleGroupName}/*`,
          }),
        ],
      }),
    );
    // Creating a schedule hands it the scheduler role: that role, to that service, nothing else.
    this.apiFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["iam:PassRole"],
        resources: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
      }),
    );
    // Download links: the api HeadObjects a file (s3:GetObject; s3:ListBucket turns a missing key
    // into a 404 rather than a 403) and presigns a GetObject with its own credentials. It never
    // writes or deletes files.
    this.grantReadFiles(this.apiFunction);
    // Starts with chain specs seal the source run's encrypted values; callbacks end runs and emit
    // chains, which opens the source's templates and seals the child's values; a destination's
    // PUT seals its credentials.
    this.grantSealParams(this.apiFunction);
    this.grantPayloads(this.apiFunction);
    this.fileTokenSecret.grantRead(this.apiFunction);

    this.workerFunction = this.batonFunction("Worker", {
      handler: "worker",
      memorySize: 1024,
      timeout: WORKER_TIMEOUT,
      environment: withFileTokens,
    });
    // Consuming includes ChangeMessageVisibility (lease heartbeats). Tenants read-only (their
    // limits, through grantStartRuns); no keys.
    this.grantStartRuns(this.workerFunction);
    this.runQueue.grantConsumeMessages(this.workerFunction);
    this.fairRunQueue.grantConsumeMessages(this.workerFunction);
    // Tasks write files: lib-storage's Upload is a PutObject, or for large bodies a multipart
    // upload (Create/UploadPart/Complete need s3:PutObject, Abort s3:AbortMultipartUpload); then a
    // HeadObject (s3:GetObject) learns the size. Objects only, without ACLs, and no deletes.
    this.workerFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject", "s3:AbortMultipartUpload"],
        resources: [this.bucket.arnForObjects("*")],
      }),
    );
    this.grantReadFiles(this.workerFunction);
    this.fileTokenSecret.grantRead(this.workerFunction);
    // ctx.files.upload reads the destination and opens its sealed credentials (kms:Decrypt, which
    // grantStartRuns gives); it never writes destinations.
    this.tables.grantRead(this.workerFunction, "destinations");
    // Bounded: a backlog of runs takes at most this many invocations per queue, never the
    // account's whole concurrency. The record's queue ARN tells the worker which lane it is on.
    for (const queue of [this.fairRunQueue, this.runQueue]) {
      this.workerFunction.addEventSource(
        new SqsEventSource(queue, {
          batchSize: queue === this.fairRunQueue ? settings.workerBatchSize : 10,
          reportBatchItemFailures: true,
          maxConcurrency: settings.workerMaxConcurrency,
        }),
      );
    }

    // Repairs stuck runs and counters and promotes waiting runs; safe to run concurrently, so no
    // reserved concurrency. It sends to the queue but never consumes it, and never touches files
    // (a chain hand-off only signs a token for a file key, with the secret it read at cold start).
    this.sweeperFunction = this.batonFunction("Sweeper", {
      handler: "sweeper",
      memorySize: 512,
      timeout: SWEEPER_TIMEOUT,
      environment: withFileTokens,
      // The next sweep is the retry: Lambda's own (two by default) would only pile sweeps up.
      retryAttempts: 0,
      maxEventAge: SWEEP_MAX_EVENT_AGE,
      onFailure: new SqsDestination(this.asyncFailureQueue),
    });
    // Ends runs and emits the chains of runs it ends or finds left over.
    this.grantStartRuns(this.sweeperFunction);
    this.fileTokenSecret.grantRead(this.sweeperFunction);
    this.sweepRule = new events.Rule(this, "SweepSchedule", {
      description: "Runs the Baton sweeper every minute",
      schedule: events.Schedule.rate(SWEEP_INTERVAL),
      // The next minute's sweep is the retry; a sweep EventBridge could not deliver is recorded.
      targets: [
        new targets.LambdaFunction(this.sweeperFunction, {
          retryAttempts: 0,
          deadLetterQueue: this.scheduleDeadLetterQueue,
        }),
      ],
    });

    // Delayed and recurring starts fall due here, from the delay queue or from a schedule. It
    // starts runs like the sweeper does: runs and counters, definitions, chains, grants and
    // tenants read-only, sends to the run queue; no keys, files or file tokens (it ends no
    // succeeded run, so it hands nothing on).
    this.triggerFunction = this.batonFunction("Trigger", {
      handler: "trigger",
      functionName: triggerName,
      memorySize: 512,
      timeout: TRIGGER_TIMEOUT,
      environment,
      retryAttempts: TRIGGER_ASYNC_RETRIES,
      maxEventAge: TRIGGER_MAX_EVENT_AGE,
      onFailure: new SqsDestination(this.asyncFailureQueue),
    });
    // Cron and delayed starts may carry chain specs, whose values are sealed.
    this.grantStartRuns(this.triggerFunction);
    this.triggerFunction.addEventSource(
      new SqsEventSource(this.delayQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: settings.triggerMaxConcurrency,
      }),
    );
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: [this.triggerFunction.functionArn],
      }),
    );

    // The api Lambda routes and authenticates itself: HTTP APIs have no API keys.
    this.api = new apigwv2.HttpApi(this, "HttpApi", {
      // Not unique in AWS, but the console then tells two stages' APIs apart.
      apiName: namePrefix,
      description: "Baton API",
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", this.apiFunction),
      createDefaultStage: false,
    });
    const accessLogs = new logs.LogGroup(this, "ApiAccessLogs", {
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The id HttpApi gives its own default stage, so a deployed stack keeps its stage.
    new apigwv2.HttpStage(this.api, "DefaultStage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: settings.apiThrottle,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogs),
        format: ACCESS_LOG_FORMAT,
      },
    });

    // GET /v1/tasks/{id}/events. The handler asks the api's own code (bundled in) whether the
    // caller may read the run, so it reads what GET /v1/tasks/{id} reads: runs (a workflow's step
    // runs too) and keys, and the token secret for read tokens. It writes nothing.
    this.eventsFunction = this.batonFunction("Events", {
      handler: "events",
      memorySize: 256,
      timeout: EVENTS_TIMEOUT,
      environment: withFileTokens,
      // Each open stream holds an invocation: this caps them, and keeps them off the worker's share.
      reservedConcurrentExecutions: settings.eventsReservedConcurrency,
    });
    this.tables.grantRead(this.eventsFunction, "runs", "keys");
    this.fileTokenSecret.grantRead(this.eventsFunction);
    // A run whose params or output were claim-checked is read back whole from S3.
    this.eventsFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: [this.payloadsBucket.arnForObjects("*")],
      }),
    );
    this.eventsUrl = this.eventsFunction.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
      // A frontend on any origin opens an EventSource with a read token in the URL: no cookies,
      // so no credentialed CORS. Lambda answers the preflight of a fetch that sends a key.
      cors: {
        allowedOrigins: ["*"],
        allowedMethods: [lambda.HttpMethod.GET],
        allowedHeaders: ["authorization", "last-event-id"],
        maxAge: Duration.minutes(10),
      },
    });
    // The dashboard (served by the api) opens its run pages' streams there.
    this.apiFunction.addEnvironment(ENV.eventsUrl, this.eventsUrl.url);

    this.alarmTopic = props.alarmTopic ?? this.createAlarmTopic(namePrefix);
    this.operations = new BatonOperations(this, "Operations", {
      topic: this.alarmTopic,
      functions: {
        api: this.apiFunction,
        worker: this.workerFunction,
        trigger: this.triggerFunction,
        sweeper: this.sweeperFunction,
      },
      runQueues: { fifo: this.runQueue, fair: this.fairRunQueue },
      delayQueue: this.delayQueue,
      deadLetterQueues: {
        run: this.deadLetterQueue,
        fairRun: this.fairDeadLetterQueue,
        delay: this.delayDeadLetterQueue,
        schedule: this.scheduleDeadLetterQueue,
        asyncFailure: this.asyncFailureQueue,
      },
      tables: this.tables.entries(),
      serviceName: namePrefix,
      sweepInterval: SWEEP_INTERVAL,
      queueAgeThreshold: settings.queueAgeAlarmThreshold,
      namePrefix,
    });

    new CfnOutput(this, "ApiUrl", { value: this.api.apiEndpoint });
    new CfnOutput(this, "EventsUrl", {
      value: this.eventsUrl.url,
      description: "GET <EventsUrl>v1/tasks/{id}/events streams a run's events (docs/events.md)",
    });
    new CfnOutput(this, "RunQueueUrl", { value: this.runQueue.queueUrl });
    new CfnOutput(this, "RunDeadLetterQueueUrl", { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, "FairRunQueueUrl", { value: this.fairRunQueue.queueUrl });
    new CfnOutput(this, "FairRunDeadLetterQueueUrl", { value: this.fairDeadLetterQueue.queueUrl });
    new CfnOutput(this, "DelayQueueUrl", { value: this.delayQueue.queueUrl });
    new CfnOutput(this, "DelayDeadLetterQueueUrl", { value: this.delayDeadLetterQueue.queueUrl });
    new CfnOutput(this, "ScheduleDeadLetterQueueUrl", { value: this.scheduleDeadLetterQueue.queueUrl });
    new CfnOutput(this, "AsyncFailureQueueUrl", { value: this.asyncFailureQueue.queueUrl });
    new CfnOutput(this, "ScheduleGroupName", { value: scheduleGroupName });
    new CfnOutput(this, "FilesBucketName", { value: this.bucket.bucketName });
    new CfnOutput(this, "PayloadsBucketName", { value: this.payloadsBucket.bucketName });
    new CfnOutput(this, "ParamsKeyArn", { value: this.paramsKey.keyArn });
    new CfnOutput(this, "FileTokenSecretArn", { value: this.fileTokenSecret.secretArn });
    new CfnOutput(this, "AlarmTopicArn", {
      value: this.alarmTopic.topicArn,
      description: "Subscribe to be told of every Baton alarm (docs/operations.md)",
      exportName: `${namePrefix}-AlarmTopicArn`,
    });
    new CfnOutput(this, "DashboardName", { value: this.operations.dashboard.dashboardName });
    for (const [name, table] of this.tables.entries()) {
      new CfnOutput(this, `${name[0]?.toUpperCase()}${name.slice(1)}TableName`, { value: table.tableName });
    }

    // An unlimited start sends its run's message before it writes the run, and a worker of a
    // release before that would drop a message whose run it cannot find yet. So an update
    // deploys the worker's new code first, then the code of everything that starts runs.
    for (const starter of [this.apiFunction, this.triggerFunction, this.sweeperFunction]) {
      starter.node.addDependency(this.workerFunction);
    }

    acknowledgeNagFindings(this);
  }

  /**
   * The alarms' topic. Its policy (which enforceSSL creates) replaces SNS's default one, which let
   * the account's own services publish; CloudWatch is a service principal, so it gets its own
   * statement, for this account's alarms only. A given topic's policy is its owner's to set.
   */
  private createAlarmTopic(namePrefix: string): sns.Topic {
    const topic = new sns.Topic(this, "AlarmTopic", {
      displayName: `Baton (${namePrefix}) alarms`,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [topic.topicArn],
        conditions: { StringEquals: { "aws:SourceAccount": Stack.of(this).account } },
      }),
    );
    return topic;
  }

  /**
   * What the worker, the sweeper and the trigger need to start, promote and end runs: runs and
   * admission counters read-write (the runs table also holds each rate-limited tenant's
   * start-rate item); definitions (live limits when promoting the next waiting run), chains and
   * grants (ending a run looks up the chain record in the target tenant and the access grant) and
   * tenants (every start reads its tenant's start rate; chain emission its tree limits)
   * read-only; sending to the run queue (promoted, chained and due runs); sealing and opening
   * chain params (a run's sealed params before its handler; a chain's templates and the child's
   * values).
   */
  private grantStartRuns(fn: NodejsFunction): void {
    this.tables.grantReadWrite(fn, "runs", "counters");
    this.tables.grantRead(fn, "definitions", "chains", "grants", "tenants");
    this.grantSendRuns(fn);
    this.grantSealParams(fn);
    this.grantPayloads(fn);
  }

  /**
   * Claim-checked run payloads: every function that writes or reads runs puts and gets them
   * (PutObject, GetObject on objects only). No listing, no deletes: the lifecycle rule deletes.
   */
  private grantPayloads(fn: NodejsFunction): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject", "s3:GetObject"],
        resources: [this.payloadsBucket.arnForObjects("*")],
      }),
    );
  }

  /**
   * Sending run messages to either run queue: SendMessage only (the adapter makes no other call),
   * in one statement, which keeps the api role's policy inside IAM's inline size limit.
   */
  private grantSendRuns(fn: NodejsFunction, more: string[] = []): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["sqs:SendMessage", ...more],
        resources: [this.runQueue.queueArn, this.fairRunQueue.queueArn],
      }),
    );
  }

  /**
   * Reading files: GetObject (also what HeadObject needs) on objects, and ListBucket on the
   * bucket (a missing key is then a 404, not a 403). Exactly those two, not grantRead's wildcards.
   */
  private grantReadFiles(fn: NodejsFunction): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["s3:GetObject"], resources: [this.bucket.arnForObjects("*")] }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ["s3:ListBucket"], resources: [this.bucket.bucketArn] }),
    );
  }

  /**
   * Sealing and opening chain params: GenerateDataKey (a fresh data key per value) and Decrypt (its
   * data key), on the params key only. No Encrypt or ReEncrypt: the data keys come from KMS already
   * encrypted. A same-account grant goes into the function's role, not the key policy.
   */
  private grantSealParams(fn: NodejsFunction): void {
    this.paramsKey.grant(fn, "kms:GenerateDataKey", "kms:Decrypt");
  }

  /**
   * One bundle of functions/lambda.ts per function; `handler` picks the export. Each has its own
   * role, allowed to write only its own log group (not AWSLambdaBasicExecutionRole's logs:* on
   * every group).
   */
  private batonFunction(
    id: string,
    options: {
      handler: "api" | "events" | "worker" | "sweeper" | "trigger";
      /** Only where something must know the name before the function exists. */
      functionName?: string;
      memorySize: number;
      timeout: Duration;
      environment: Record<string, string>;
      reservedConcurrentExecutions?: number;
      /** Asynchronous invocations (EventBridge): Lambda's retries, their age limit, where failures go. */
      retryAttempts?: number;
      maxEventAge?: Duration;
      onFailure?: lambda.IDestination;
    },
  ): NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: LOG_RETENTION,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, `${id}Role`, {
      description: `Baton ${options.handler} Lambda`,
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    });
    logGroup.grantWrite(role);
    return new NodejsFunction(this, id, {
      entry: this.lambdaEntry,
      handler: options.handler,
      ...(options.functionName === undefined ? {} : { functionName: options.functionName }),
      projectRoot: this.#projectRoot,
      ...(this.#depsLockFilePath === undefined ? {} : { depsLockFilePath: this.#depsLockFilePath }),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: options.memorySize,
      timeout: options.timeout,
      environment: options.environment,
      role,
      logGroup,
      ...(options.reservedConcurrentExecutions === undefined
        ? {}
        : { reservedConcurrentExecutions: options.reservedConcurrentExecutions }),
      ...(options.retryAttempts === undefined ? {} : { retryAttempts: options.retryAttempts }),
      ...(options.maxEventAge === undefined ? {} : { maxEventAge: options.maxEventAge }),
      ...(options.onFailure === undefined ? {} : { onFailure: options.onFailure }),
      bundling: {
        format: OutputFormat.ESM,
        target: "node22",
        mainFields: ["module", "main"],
        // CommonJS dependencies inside an ESM bundle still call require(), and some (ssh2's
        // emscripten-built poly1305) read __dirname and __filename.
        banner:
          "import { createRequire } from 'module';import { fileURLToPath as __batonPath } from 'url';" +
          "const require = createRequire(import.meta.url);const __filename = __batonPath(import.meta.url);" +
          "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Ship the SDK versions the tests ran against, not whatever the runtime carries.
        bundleAwsSDK: true,
        // ssh2 (SFTP uploads) tries this optional native speed-up inside a try/catch and runs
        // without it; its install script is declined (package.json allowScripts), so there is no
        // binary to bundle. Left out, the require fails at run time and is caught.
        // The same for ssh2's own native crypto, where a project let its install script build it:
        // esbuild cannot bundle a .node file, and ssh2 falls back to JavaScript without it.
        externalModules: ["cpu-features", "*.node"],
        // Every function gets them: one bundle for all five keeps the synth to one esbuild run.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir, outputDir) => [`cp -R "${DASHBOARD_DIR}" "${outputDir}/dashboard"`],
        },
      },
    });
  }
}

/**
 * This repository's stack: a Baton construct alone in a stack, which infra/app.ts deploys with the
 * examples. The construct's id is "Default", which CDK leaves out of logical ids, so a stack
 * deployed before the construct existed keeps every resource (a fork upgrading can use it too).
 */
export class BatonStack extends Stack {
  readonly baton: Baton;
  readonly api: apigwv2.HttpApi;
  readonly runQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly fairRunQueue: sqs.Queue;
  readonly fairDeadLetterQueue: sqs.Queue;
  readonly bucket: s3.Bucket;
  /** Run params and output above 256 KiB (claim check); only Baton's functions read or write it. */
  readonly payloadsBucket: s3.Bucket;
  readonly tables: BatonTables;
  readonly apiFunction: NodejsFunction;
  readonly eventsFunction: NodejsFunction;
  readonly eventsUrl: lambda.FunctionUrl;
  readonly workerFunction: NodejsFunction;
  readonly sweeperFunction: NodejsFunction;
  readonly sweepRule: events.Rule;
  readonly delayQueue: sqs.Queue;
  readonly delayDeadLetterQueue: sqs.Queue;
  readonly scheduleDeadLetterQueue: sqs.Queue;
  readonly asyncFailureQueue: sqs.Queue;
  readonly triggerFunction: NodejsFunction;
  readonly scheduleGroup: scheduler.CfnScheduleGroup;
  readonly schedulerRole: iam.Role;
  readonly paramsKey: kms.Key;
  readonly fileTokenSecret: secretsmanager.ISecret;
  readonly alarmTopic: sns.ITopic;
  readonly operations: BatonOperations;

  constructor(scope: Construct, id: string, props: BatonStackProps = {}) {
    super(scope, id, props);
    const { fileTokenSecretArn, alarmTopicArn, tasks, ...rest } = props;
    const baton = new Baton(this, "Default", {
      ...rest,
      tasks: tasks ?? join(REPO_ROOT, "tasks", "index.ts"),
      // In this repository its own root; from the package, the project's (where cdk runs).
      ...(PACKAGED
        ? {}
        : {
            projectRoot: props.projectRoot ?? REPO_ROOT,
            depsLockFilePath: props.depsLockFilePath ?? join(REPO_ROOT, "package-lock.json"),
          }),
      fileTokenSecret:
        props.fileTokenSecret ??
        (fileTokenSecretArn === undefined
          ? undefined
          : secretsmanager.Secret.fromSecretCompleteArn(this, "ImportedFileTokenSecret", fileTokenSecretArn)),
      alarmTopic:
        props.alarmTopic ??
        (alarmTopicArn === undefined
          ? undefined
          : sns.Topic.fromTopicArn(this, "ImportedAlarmTopic", alarmTopicArn)),
    });
    this.baton = baton;
    this.api = baton.api;
    this.runQueue = baton.runQueue;
    this.deadLetterQueue = baton.deadLetterQueue;
    this.fairRunQueue = baton.fairRunQueue;
    this.fairDeadLetterQueue = baton.fairDeadLetterQueue;
    this.bucket = baton.bucket;
    this.payloadsBucket = baton.payloadsBucket;
    this.tables = baton.tables;
    this.apiFunction = baton.apiFunction;
    this.eventsFunction = baton.eventsFunction;
    this.eventsUrl = baton.eventsUrl;
    this.workerFunction = baton.workerFunction;
    this.sweeperFunction = baton.sweeperFunction;
    this.sweepRule = baton.sweepRule;
    this.delayQueue = baton.delayQueue;
    this.delayDeadLetterQueue = baton.delayDeadLetterQueue;
    this.scheduleDeadLetterQueue = baton.scheduleDeadLetterQueue;
    this.asyncFailureQueue = baton.asyncFailureQueue;
    this.triggerFunction = baton.triggerFunction;
    this.scheduleGroup = baton.scheduleGroup;
    this.schedulerRole = baton.schedulerRole;
    this.paramsKey = baton.paramsKey;
    this.fileTokenSecret = baton.fileTokenSecret;
    this.alarmTopic = baton.alarmTopic;
    this.operations = baton.operations;
  }
}

/**
 * Writes the Lambda entry for a tasks module: it imports the module and Baton's runtime and
 * exports the five handlers. It lives in the project's node_modules/.cache/baton and imports both
 * by relative path, so its bundle (and so the functions' code hash) is the same on every machine.
 */
function lambdaEntry(projectRoot: string, tasks: string): string {
  const module = isAbsolute(tasks) ? tasks : resolve(projectRoot, tasks);
  if (!existsSync(module)) {
    throw new Error(
      `Baton: the tasks module ${module} does not exist (props.tasks, relative to ${projectRoot})`,
    );
  }
  const source = relative(projectRoot, module).split(sep).join("/");
  const folder = join(projectRoot, "node_modules", ".cache", "baton");
  const name = createHash("sha256").update(source).digest("hex").slice(0, 12);
  const file = join(folder, `lambda-${name}.ts`);
  const specifier = (path: string) => {
    const text = relative(folder, path).split(sep).join("/");
    return JSON.stringify(text.startsWith(".") ? text : `./${text}`);
  };
  const text = [
    `// Written by the Baton construct for ${source}: the Lambda entry of the api, events, worker, trigger and sweeper.`,
    `import * as tasks from ${specifier(module)};`,
    `import { lambdaHandlers } from ${specifier(LAMBDA_RUNTIME)};`,
    `export const { api, events, worker, trigger, sweeper } = await lambdaHandlers(tasks, ${JSON.stringify(source)});`,
    "",
  ].join("\n");
  mkdirSync(dirname(file), { recursive: true });
  if (!existsSync(file) || readFileSync(file, "utf8") !== text) writeFileSync(file, text);
  return file;
}

/** The props with their defaults, checked: a bad value fails the synth, not a deployment. */
function settingsOf(props: BatonProps, stackName: string) {
  const { rootKeySha256 } = props;
  if (rootKeySha256 !== undefined && !/^[0-9a-f]{64}$/.test(rootKeySha256)) {
    throw new Error("rootKeySha256 must be 64 lowercase hex characters (the SHA-256 of the root key)");
  }
  const namePrefix = props.namePrefix ?? stackName;
  if (Token.isUnresolved(namePrefix) || !/^[A-Za-z][A-Za-z0-9-]*$/.test(namePrefix)) {
    throw new Error("namePrefix must start with a letter and hold only letters, digits and hyphens");
  }
  const integer = (name: string, value: number, min: number, max: number) => {
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      throw new Error(`${name} must be an integer from ${min} to ${max}`);
    }
    return value;
  };
  const apiThrottle = props.apiThrottle ?? BATON_DEFAULTS.apiThrottle;
  if (
    !(apiThrottle.rateLimit > 0 && Number.isInteger(apiThrottle.burstLimit) && apiThrottle.burstLimit > 0)
  ) {
    throw new Error("apiThrottle needs a positive rateLimit and a positive integer burstLimit");
  }
  return {
    rootKeySha256,
    namePrefix,
    removalPolicy: props.removalPolicy ?? BATON_DEFAULTS.removalPolicy,
    // The SQS event source's own limits.
    workerMaxConcurrency: integer(
      "workerMaxConcurrency",
      props.workerMaxConcurrency ?? BATON_DEFAULTS.workerMaxConcurrency,
      2,
      1000,
    ),
    workerBatchSize: integer(
      "workerBatchSize",
      props.workerBatchSize ?? BATON_DEFAULTS.workerBatchSize,
      1,
      10,
    ),
    triggerMaxConcurrency: integer(
      "triggerMaxConcurrency",
      props.triggerMaxConcurrency ?? BATON_DEFAULTS.triggerMaxConcurrency,
      2,
      1000,
    ),
    apiReservedConcurrency: integer(
      "apiReservedConcurrency",
      props.apiReservedConcurrency ?? BATON_DEFAULTS.apiReservedConcurrency,
      1,
      10_000,
    ),
    eventsReservedConcurrency: integer(
      "eventsReservedConcurrency",
      props.eventsReservedConcurrency ?? BATON_DEFAULTS.eventsReservedConcurrency,
      1,
      10_000,
    ),
    apiThrottle,
    retentionDays: integer(
      "retentionDays",
      props.retentionDays ?? BATON_DEFAULTS.retentionDays,
      1,
      MAX_RUN_RETENTION_DAYS,
    ),
    queueAgeAlarmThreshold: props.queueAgeAlarmThreshold ?? BATON_DEFAULTS.queueAgeAlarmThreshold,
  };
}

/**
 * `<prefix>-<suffix>`, at most 64 characters: a long prefix is cut and a hash of it keeps the
 * result unique. Prefixes (stack names by default) use only letters, digits and hyphens, which
 * both Lambda function and schedule group names allow.
 */
export function physicalName(prefix: string, suffix: string): string {
  if (Token.isUnresolved(prefix)) throw new Error("the Baton stack needs a concrete name prefix");
  const name = `${prefix}-${suffix}`;
  if (name.length <= MAX_NAME_LENGTH) return name;
  const hash = createHash("sha256").update(prefix).digest("hex").slice(0, 8);
  return `${prefix.slice(0, MAX_NAME_LENGTH - suffix.length - hash.length - 2)}-${hash}-${suffix}`;
}
