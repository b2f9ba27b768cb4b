import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Token } from "aws-cdk-lib";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { RUN_QUEUE } from "../shared/aws/queues.ts";
import { ENV } from "../shared/config.ts";
import { BatonTables } from "./tables.ts";

export interface BatonStackProps extends StackProps {
  /** SHA-256 (hex) of the root API key; without it no root key is accepted. */
  rootKeySha256?: string;
  /**
   * Signs file tokens (at least 32 characters); without it every function refuses file tokens.
   * It goes into every function's environment as plain text, so anyone who may read the function
   * configuration (lambda:GetFunctionConfiguration) or the synthesized template can read it. A
   * later change could move it to Secrets Manager and fetch it at cold start.
   */
  fileTokenSecret?: string;
  /** Most worker invocations the SQS event source may run at once (2–1000); unset means no cap. */
  workerConcurrency?: number;
}

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const ENTRY = fileURLToPath(new URL("../functions/lambda.ts", import.meta.url));
const LOCK_FILE = fileURLToPath(new URL("../package-lock.json", import.meta.url));
/**
 * The dashboard's files, relative to the project root. functions/api/dashboard.ts reads them from
 * `./dashboard/` beside itself, which in the bundle is beside index.mjs: so they are copied there.
 */
const DASHBOARD_DIR = "functions/api/dashboard";

/** HTTP APIs cut every integration at 30 s, so the api Lambda stops just before. */
const API_TIMEOUT = Duration.seconds(29);
export const WORKER_TIMEOUT = Duration.minutes(15);
/** Must exceed the worker timeout, or SQS re-delivers a message while its batch is still running. */
const RUN_QUEUE_VISIBILITY = Duration.minutes(16);
/** Heartbeats come every lease/3 (10 s), which is also how fast a cancel reaches a running handler. */
const LEASE_SECONDS = 30;
export const SWEEPER_TIMEOUT = Duration.minutes(5);
/** The sweeper runs this often; a failed sweep is simply retried by the next one. */
const SWEEP_SCHEDULE = events.Schedule.rate(Duration.minutes(1));
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
/** The shared config refuses a shorter file token secret at cold start; the synth refuses it first. */
const MIN_FILE_TOKEN_SECRET_LENGTH = 32;
/** Lambda function and schedule group names both allow 64 characters. */
const MAX_NAME_LENGTH = 64;

export class BatonStack extends Stack {
  readonly api: apigwv2.HttpApi;
  readonly runQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly bucket: s3.Bucket;
  readonly tables: BatonTables;
  readonly apiFunction: NodejsFunction;
  readonly workerFunction: NodejsFunction;
  readonly sweeperFunction: NodejsFunction;
  readonly sweepRule: events.Rule;
  /** Delayed starts of up to 15 minutes (DelaySeconds), consumed by the trigger. */
  readonly delayQueue: sqs.Queue;
  readonly delayDeadLetterQueue: sqs.Queue;
  readonly triggerFunction: NodejsFunction;
  /** Holds the one-time (longer delays) and recurring (cron) schedules, all targeting the trigger. */
  readonly scheduleGroup: scheduler.CfnScheduleGroup;
  /** What EventBridge Scheduler assumes to invoke the trigger; it may do nothing else. */
  readonly schedulerRole: iam.Role;
  /** Seals chain params (envelope encryption): the key-encryption key of every sealed value. */
  readonly paramsKey: kms.Key;

  constructor(scope: Construct, id: string, props: BatonStackProps = {}) {
    super(scope, id, props);
    const { rootKeySha256, fileTokenSecret, workerConcurrency } = props;
    // Fail the synth, not the first cold start, on a malformed hash.
    if (rootKeySha256 !== undefined && !/^[0-9a-f]{64}$/.test(rootKeySha256)) {
      throw new Error("rootKeySha256 must be 64 lowercase hex characters (the SHA-256 of the root key)");
    }
    // A token (say, a dynamic reference) has no length until deployment.
    if (
      fileTokenSecret !== undefined &&
      !Token.isUnresolved(fileTokenSecret) &&
      fileTokenSecret.length < MIN_FILE_TOKEN_SECRET_LENGTH
    ) {
      throw new Error(
        `fileTokenSecret must be at least ${MIN_FILE_TOKEN_SECRET_LENGTH} characters (it signs file tokens)`,
      );
    }
    if (
      workerConcurrency !== undefined &&
      !(Number.isInteger(workerConcurrency) && workerConcurrency >= 2 && workerConcurrency <= 1000)
    ) {
      throw new Error("workerConcurrency must be an integer from 2 to 1000 (the SQS event source limit)");
    }

    this.tables = new BatonTables(this, "Tables");

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

    // Files and payloads too large for a queue message or an item (claim check).
    this.bucket = new s3.Bucket(this, "Files", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
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

    // Sealed chain params and destination credentials: each value is encrypted with its own data
    // key (GenerateDataKey) and only that data key is encrypted by this key, bound to {tenant,
    // taskId, param} (or {tenant, destination, credential}) as encryption context.
    // Retained, like the files: sealed values stored in runs and chains must stay readable after the
    // stack is gone. The key policy keeps CDK's default (the account root, which lets IAM policies
    // grant access); the functions get their two actions through their roles below.
    this.paramsKey = new kms.Key(this, "ParamsKey", {
      description: `Baton (${this.stackName}): seals chain params (envelope encryption)`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      alias: `alias/${this.stackName}-params`,
    });

    const scheduleGroupName = physicalName(this.stackName, "baton");
    this.scheduleGroup = new scheduler.CfnScheduleGroup(this, "ScheduleGroup", { name: scheduleGroupName });
    // The trigger's ARN goes into every function's environment, its own included: taken from a
    // fixed name rather than the function itself, it is no reference and so no cycle.
    const triggerName = physicalName(this.stackName, "trigger");
    const triggerArn = this.formatArn({
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
            "aws:SourceAccount": this.account,
            "aws:SourceArn": this.formatArn({
              service: "scheduler",
              resource: "schedule-group",
              resourceName: scheduleGroupName,
            }),
          },
        },
      }),
    });

    const environment: Record<string, string> = {
      ...this.tables.environment(),
      [ENV.runQueueUrl]: this.runQueue.queueUrl,
      // All four or none: the shared config refuses a partial set.
      [ENV.delayQueueUrl]: this.delayQueue.queueUrl,
      [ENV.scheduleGroup]: scheduleGroupName,
      [ENV.triggerArn]: triggerArn,
      [ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
      // Every function: they share one config, which requires it.
      [ENV.filesBucket]: this.bucket.bucketName,
      [ENV.leaseSeconds]: String(LEASE_SECONDS),
      // Without it the functions refuse encrypted params; with it each may seal and open them.
      [ENV.kmsKeyId]: this.paramsKey.keyArn,
      // Plain text in the function configuration; see BatonStackProps.fileTokenSecret.
      ...(fileTokenSecret === undefined ? {} : { [ENV.fileTokenSecret]: fileTokenSecret }),
      ...(rootKeySha256 === undefined ? {} : { [ENV.rootKeySha256]: rootKeySha256 }),
      NODE_OPTIONS: "--enable-source-maps",
    };

    this.apiFunction = this.batonFunction("Api", {
      handler: "api",
      memorySize: 512,
      timeout: API_TIMEOUT,
      environment,
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
    this.runQueue.grantSendMessages(this.apiFunction);
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
          this.formatArn({
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
    this.bucket.grantRead(this.apiFunction);
    // Starts with chain specs seal the source run's encrypted values; callbacks end runs and emit
    // chains, which opens the source's templates and seals the child's values; a destination's
    // PUT seals its credentials.
    this.grantSealParams(this.apiFunction);

    this.workerFunction = this.batonFunction("Worker", {
      handler: "worker",
      memorySize: 1024,
      timeout: WORKER_TIMEOUT,
      environment,
    });
    // Consuming includes ChangeMessageVisibility (lease heartbeats). No tenants or keys.
    this.grantStartRuns(this.workerFunction);
    this.runQueue.grantConsumeMessages(this.workerFunction);
    // Tasks write files: lib-storage's Upload is a PutObject, or for large bodies a multipart
    // upload (Create/UploadPart/Complete need s3:PutObject, Abort s3:AbortMultipartUpload); then a
    // HeadObject (s3:GetObject) learns the size. grantPut covers objects only, without ACLs (CDK
    // v2's grantWriteWithoutAcl default), and grants no deletes.
    this.bucket.grantPut(this.workerFunction);
    this.bucket.grantRead(this.workerFunction);
    // ctx.files.upload reads the destination and opens its sealed credentials (kms:Decrypt, which
    // grantStartRuns gives); it never writes destinations.
    this.tables.grantRead(this.workerFunction, "destinations");
    this.workerFunction.addEventSource(
      new SqsEventSource(this.runQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        ...(workerConcurrency === undefined ? {} : { maxConcurrency: workerConcurrency }),
      }),
    );

    // Repairs stuck runs and counters and promotes waiting runs; safe to run concurrently, so no
    // reserved concurrency. It sends to the queue but never consumes it, and never touches files
    // (a chain hand-off only signs a token for a file key, with the secret from the environment).
    this.sweeperFunction = this.batonFunction("Sweeper", {
      handler: "sweeper",
      memorySize: 512,
      timeout: SWEEPER_TIMEOUT,
      environment,
    });
    // Ends runs and emits the chains of runs it ends or finds left over.
    this.grantStartRuns(this.sweeperFunction);
    this.sweepRule = new events.Rule(this, "SweepSchedule", {
      description: "Runs the Baton sweeper every minute",
      schedule: SWEEP_SCHEDULE,
      // The next minute's sweep is the retry.
      targets: [new targets.LambdaFunction(this.sweeperFunction, { retryAttempts: 0 })],
    });

    // Delayed and recurring starts fall due here, from the delay queue or from a schedule. It
    // starts runs like the sweeper does: runs and counters, definitions, chains and grants
    // read-only, sends to the run queue; no tenants, keys or files.
    this.triggerFunction = this.batonFunction("Trigger", {
      handler: "trigger",
      functionName: triggerName,
      memorySize: 512,
      timeout: TRIGGER_TIMEOUT,
      environment,
    });
    // Cron and delayed starts may carry chain specs, whose values are sealed.
    this.grantStartRuns(this.triggerFunction);
    this.triggerFunction.addEventSource(
      new SqsEventSource(this.delayQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["lambda:InvokeFunction"],
        resources: [this.triggerFunction.functionArn],
      }),
    );

    // The api Lambda routes and authenticates itself: HTTP APIs have no API keys.
    this.api = new apigwv2.HttpApi(this, "HttpApi", {
      description: "Baton API",
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", this.apiFunction),
    });

    new CfnOutput(this, "ApiUrl", { value: this.api.apiEndpoint });
    new CfnOutput(this, "RunQueueUrl", { value: this.runQueue.queueUrl });
    new CfnOutput(this, "RunDeadLetterQueueUrl", { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, "DelayQueueUrl", { value: this.delayQueue.queueUrl });
    new CfnOutput(this, "ScheduleGroupName", { value: scheduleGroupName });
    new CfnOutput(this, "FilesBucketName", { value: this.bucket.bucketName });
    new CfnOutput(this, "ParamsKeyArn", { value: this.paramsKey.keyArn });
    for (const [name, table] of Object.entries(this.tables.tables)) {
      new CfnOutput(this, `${name[0]?.toUpperCase()}${name.slice(1)}TableName`, { value: table.tableName });
    }
  }

  /**
   * What the worker, the sweeper and the trigger need to start, promote and end runs: runs and
   * admission counters read-write; definitions (live limits when promoting the next waiting run),
   * chains and grants (ending a run looks up the chain record in the target tenant and the access
   * grant) read-only; sending to the run queue (promoted, chained and due runs); sealing and
   * opening chain params (a run's sealed params before its handler; a chain's templates and the
   * child's values).
   */
  private grantStartRuns(fn: NodejsFunction): void {
    this.tables.grantReadWrite(fn, "runs", "counters");
    this.tables.grantRead(fn, "definitions", "chains", "grants");
    this.runQueue.grantSendMessages(fn);
    this.grantSealParams(fn);
  }

  /**
   * Sealing and opening chain params: GenerateDataKey (a fresh data key per value) and Decrypt (its
   * data key), on the params key only. No Encrypt or ReEncrypt: the data keys come from KMS already
   * encrypted. A same-account grant goes into the function's role, not the key policy.
   */
  private grantSealParams(fn: NodejsFunction): void {
    this.paramsKey.grant(fn, "kms:GenerateDataKey", "kms:Decrypt");
  }

  /** One bundle of functions/lambda.ts per function; `handler` picks the export. */
  private batonFunction(
    id: string,
    options: {
      handler: "api" | "worker" | "sweeper" | "trigger";
      /** Only where something must know the name before the function exists. */
      functionName?: string;
      memorySize: number;
      timeout: Duration;
      environment: Record<string, string>;
    },
  ): NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    return new NodejsFunction(this, id, {
      entry: ENTRY,
      handler: options.handler,
      ...(options.functionName === undefined ? {} : { functionName: options.functionName }),
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: options.memorySize,
      timeout: options.timeout,
      environment: options.environment,
      logGroup,
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
        externalModules: ["cpu-features"],
        // Every function gets them: one bundle for all four keeps the synth to one esbuild run.
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [
            `cp -R "${inputDir}/${DASHBOARD_DIR}" "${outputDir}/dashboard"`,
          ],
        },
      },
    });
  }
}

/**
 * `<stackName>-<suffix>`, at most 64 characters: a long stack name is cut and a hash of it keeps
 * the result unique. Stack names use only letters, digits and hyphens, which both Lambda function
 * and schedule group names allow.
 */
export function physicalName(stackName: string, suffix: string): string {
  if (Token.isUnresolved(stackName)) throw new Error("the Baton stack needs a concrete stack name");
  const name = `${stackName}-${suffix}`;
  if (name.length <= MAX_NAME_LENGTH) return name;
  const hash = createHash("sha256").update(stackName).digest("hex").slice(0, 8);
  return `${stackName.slice(0, MAX_NAME_LENGTH - suffix.length - hash.length - 2)}-${hash}-${suffix}`;
}
