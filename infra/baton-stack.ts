import { fileURLToPath } from "node:url";
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as apigwv2 from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { RUN_QUEUE } from "../shared/aws/queues.ts";
import { ENV } from "../shared/config.ts";
import { BatonTables } from "./tables.ts";

export interface BatonStackProps extends StackProps {
  /** SHA-256 (hex) of the root API key; without it no root key is accepted. */
  rootKeySha256?: string;
  /** Most worker invocations the SQS event source may run at once (2–1000); unset means no cap. */
  workerConcurrency?: number;
}

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const ENTRY = fileURLToPath(new URL("../functions/lambda.ts", import.meta.url));
const LOCK_FILE = fileURLToPath(new URL("../package-lock.json", import.meta.url));

/** HTTP APIs cut every integration at 30 s, so the api Lambda stops just before. */
const API_TIMEOUT = Duration.seconds(29);
export const WORKER_TIMEOUT = Duration.minutes(15);
/** Must exceed the worker timeout, or SQS re-delivers a message while its batch is still running. */
const RUN_QUEUE_VISIBILITY = Duration.minutes(16);
/** Heartbeats come every lease/3 (10 s), which is also how fast a cancel reaches a running handler. */
const LEASE_SECONDS = 30;
export const SWEEPER_TIMEOUT = Duration.minutes(5);
/** The sweeper runs this often; a failed sweep is simply retried by the next one. */
export const SWEEP_SCHEDULE = events.Schedule.rate(Duration.minutes(1));

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

  constructor(scope: Construct, id: string, props: BatonStackProps = {}) {
    super(scope, id, props);
    const { rootKeySha256, workerConcurrency } = props;
    // Fail the synth, not the first cold start, on a malformed hash.
    if (rootKeySha256 !== undefined && !/^[0-9a-f]{64}$/.test(rootKeySha256)) {
      throw new Error("rootKeySha256 must be 64 lowercase hex characters (the SHA-256 of the root key)");
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

    const environment: Record<string, string> = {
      ...this.tables.environment(),
      [ENV.runQueueUrl]: this.runQueue.queueUrl,
      [ENV.leaseSeconds]: String(LEASE_SECONDS),
      ...(rootKeySha256 === undefined ? {} : { [ENV.rootKeySha256]: rootKeySha256 }),
      NODE_OPTIONS: "--enable-source-maps",
    };

    this.apiFunction = this.batonFunction("Api", {
      handler: "api",
      memorySize: 512,
      timeout: API_TIMEOUT,
      environment,
    });
    // Starts update admission counters in the same transaction as the run.
    this.tables.grantReadWrite(this.apiFunction, "runs", "definitions", "tenants", "keys", "counters");
    this.runQueue.grantSendMessages(this.apiFunction);

    this.workerFunction = this.batonFunction("Worker", {
      handler: "worker",
      memorySize: 1024,
      timeout: WORKER_TIMEOUT,
      environment,
    });
    // Runs and admission counters; definitions only read (live limits when promoting the next
    // waiting run). Consuming includes ChangeMessageVisibility (lease heartbeats); sending is for
    // promoted runs. No tenants or keys.
    this.tables.grantReadWrite(this.workerFunction, "runs", "counters");
    this.tables.grantRead(this.workerFunction, "definitions");
    this.runQueue.grantConsumeMessages(this.workerFunction);
    this.runQueue.grantSendMessages(this.workerFunction);
    this.workerFunction.addEventSource(
      new SqsEventSource(this.runQueue, {
        batchSize: 10,
        reportBatchItemFailures: true,
        ...(workerConcurrency === undefined ? {} : { maxConcurrency: workerConcurrency }),
      }),
    );

    // Repairs stuck runs and counters and promotes waiting runs; safe to run concurrently, so no
    // reserved concurrency. It sends to the queue but never consumes it.
    this.sweeperFunction = this.batonFunction("Sweeper", {
      handler: "sweeper",
      memorySize: 512,
      timeout: SWEEPER_TIMEOUT,
      environment,
    });
    this.tables.grantReadWrite(this.sweeperFunction, "runs", "counters");
    this.tables.grantRead(this.sweeperFunction, "definitions");
    this.runQueue.grantSendMessages(this.sweeperFunction);
    this.sweepRule = new events.Rule(this, "SweepSchedule", {
      description: "Runs the Baton sweeper every minute",
      schedule: SWEEP_SCHEDULE,
      // The next minute's sweep is the retry.
      targets: [new targets.LambdaFunction(this.sweeperFunction, { retryAttempts: 0 })],
    });

    // The api Lambda routes and authenticates itself: HTTP APIs have no API keys.
    this.api = new apigwv2.HttpApi(this, "HttpApi", {
      description: "Baton API",
      defaultIntegration: new HttpLambdaIntegration("ApiIntegration", this.apiFunction),
    });

    new CfnOutput(this, "ApiUrl", { value: this.api.apiEndpoint });
    new CfnOutput(this, "RunQueueUrl", { value: this.runQueue.queueUrl });
    new CfnOutput(this, "RunDeadLetterQueueUrl", { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, "FilesBucketName", { value: this.bucket.bucketName });
    for (const [name, table] of Object.entries(this.tables.tables)) {
      new CfnOutput(this, `${name[0]?.toUpperCase()}${name.slice(1)}TableName`, { value: table.tableName });
    }
  }

  /** One bundle of functions/lambda.ts per function; `handler` picks the export. */
  private batonFunction(
    id: string,
    options: {
      handler: "api" | "worker" | "sweeper";
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
        // CommonJS dependencies inside an ESM bundle still call require().
        banner: "import { createRequire } from 'module';const require = createRequire(import.meta.url);",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Ship the SDK versions the tests ran against, not whatever the runtime carries.
        bundleAwsSDK: true,
      },
    });
  }
}
