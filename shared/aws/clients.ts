import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { S3Client } from "@aws-sdk/client-s3";
import { SchedulerClient } from "@aws-sdk/client-scheduler";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AwsCallCounter } from "./call-counter.ts";
import { enforceItemLimit } from "./dynamo-item-limit.ts";
import type { ClientInstrument } from "./instrument.ts";
import { translateUnavailable } from "./unavailable.ts";

export interface AwsClientOptions {
  region: string;
  /** Endpoint overrides (DynamoDB Local, fauxqs, LocalStack); absent on AWS. */
  endpoints?: { dynamodb?: string; sqs?: string; scheduler?: string; s3?: string };
  /** Emulators accept any credentials; on AWS the default provider chain is used. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Counts every call (benchmarks, tests). */
  callCounter?: AwsCallCounter;
  /** Sees every client made here, to add SDK middleware (fault injection in the fault suite). */
  instrument?: ClientInstrument;
}

export interface AwsClients {
  dynamo: DynamoDBDocumentClient;
  sqs: SQSClient;
  scheduler: SchedulerClient;
  s3: S3Client;
  kms: KMSClient;
}

export function createAwsClients(options: AwsClientOptions): AwsClients {
  const common = {
    region: options.region,
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
  };
  const dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({
      ...common,
      ...(options.endpoints?.dynamodb === undefined ? {} : { endpoint: options.endpoints.dynamodb }),
    }),
    { marshallOptions: { removeUndefinedValues: true } },
  );
  const sqs = new SQSClient({
    ...common,
    // An explicit endpoint also stops the SDK from sending to the queue URL's own host, which
    // emulators make up (fauxqs: sqs.<region>.localhost).
    ...(options.endpoints?.sqs === undefined ? {} : { endpoint: options.endpoints.sqs }),
  });
  const scheduler = new SchedulerClient({
    ...common,
    ...(options.endpoints?.scheduler === undefined ? {} : { endpoint: options.endpoints.scheduler }),
  });
  // Path-style addressing: emulators (fauxqs, LocalStack) serve buckets under one host.
  const s3 = new S3Client({
    ...common,
    ...(options.endpoints?.s3 === undefined ? {} : { endpoint: options.endpoints.s3, forcePathStyle: true }),
  });
  const kms = new KMSClient(common);
  // An item over 400 KB: refused before it is sent (puts) or translated (updates), as a domain error.
  enforceItemLimit(dynamo);
  translateUnavailable(dynamo, "the database (DynamoDB)");
  translateUnavailable(sqs, "the queue (SQS)");
  translateUnavailable(scheduler, "the scheduler (EventBridge Scheduler)");
  translateUnavailable(s3, "file storage (S3)");
  translateUnavailable(kms, "the key service (KMS)");
  // The counter first, so it sees each call as the instrument lets it through.
  for (const client of [dynamo, sqs, scheduler, s3, kms]) {
    options.callCounter?.attach(client);
    options.instrument?.(client);
  }
  return { dynamo, sqs, scheduler, s3, kms };
}

/** True for DynamoDB's "the condition did not hold" (the losing side of a conditional write). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}
