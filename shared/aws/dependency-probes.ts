import { HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { DependencyProbes } from "../core/ports.ts";
import { TABLES, type TableName, type TableNames } from "./tables.ts";

/** A key no item has: a probe reads it to prove the table answers, and finds nothing. */
const PROBE_KEY = "#baton-health-probe";

/**
 * GET /health's probes on AWS: data-plane reads the api's role already has, each with low limits
 * to spare (DescribeTable and ListQueues are control-plane calls with low per-account rates):
 * an eventually consistent GetItem of a missing key on every table (half a read unit each),
 * GetQueueAttributes of each run queue and HeadBucket of the files bucket.
 */
export function awsDependencyProbes(options: {
  dynamo: DynamoDBDocumentClient;
  tables: TableNames;
  sqs: SQSClient;
  queueUrls: string[];
  s3: S3Client;
  bucket: string;
}): DependencyProbes {
  const { dynamo, tables, sqs, queueUrls, s3, bucket } = options;
  return {
    async dynamodb(signal) {
      await Promise.all(
        (Object.keys(tables) as TableName[]).map((name) =>
          dynamo.send(new GetCommand({ TableName: tables[name], Key: probeKey(name) }), {
            abortSignal: signal,
          }),
        ),
      );
    },
    async sqs(signal) {
      await Promise.all(
        queueUrls.map((QueueUrl) =>
          sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }), {
            abortSignal: signal,
          }),
        ),
      );
    },
    async s3(signal) {
      await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: signal });
    },
  };
}

function probeKey(name: TableName): Record<string, string> {
  const table = TABLES[name];
  return {
    [table.partitionKey]: PROBE_KEY,
    ...("sortKey" in table ? { [table.sortKey]: PROBE_KEY } : {}),
  };
}
