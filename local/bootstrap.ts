/**
 * Creates the tables and queues that the CDK stack creates on AWS, from the same descriptions,
 * on the emulators. Idempotent: safe on every start of `npm run dev`.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ListTablesCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { RUN_QUEUE } from "../shared/aws/queues.ts";
import { TABLES, type TableName, type TableNames, type TableSchema } from "../shared/aws/tables.ts";

export function tableNames(prefix: string): TableNames {
  return {
    runs: `${prefix}runs`,
    definitions: `${prefix}definitions`,
    tenants: `${prefix}tenants`,
    keys: `${prefix}keys`,
    counters: `${prefix}counters`,
    chains: `${prefix}chains`,
    grants: `${prefix}grants`,
    destinations: `${prefix}destinations`,
  };
}

export async function ensureTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  const existing = new Set<string>();
  let start: string | undefined;
  do {
    const page = await client.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    for (const name of page.TableNames ?? []) existing.add(name);
    start = page.LastEvaluatedTableName;
  } while (start !== undefined);
  for (const table of Object.keys(TABLES) as TableName[]) {
    const schema: TableSchema = TABLES[table];
    if (existing.has(names[table])) {
      await addMissingIndexes(client, names[table], schema);
      continue;
    }
    await client.send(new CreateTableCommand(createTableInput(names[table], schema)));
    if (schema.ttlAttribute !== undefined) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: names[table],
          TimeToLiveSpecification: { AttributeName: schema.ttlAttribute, Enabled: true },
        }),
      );
    }
  }
}

/**
 * A data folder made by an older release lacks the indexes added since: create them in place
 * (DynamoDB builds one index at a time, so wait for each). Items written before an index
 * existed and lacking its key attributes are simply not in it.
 */
async function addMissingIndexes(client: DynamoDBClient, name: string, schema: TableSchema): Promise<void> {
  const described = await client.send(new DescribeTableCommand({ TableName: name }));
  const present = new Set((described.Table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const wanted = createTableInput(name, schema);
  for (const index of wanted.GlobalSecondaryIndexes ?? []) {
    if (present.has(index.IndexName)) continue;
    const keys = new Set(index.KeySchema?.map((key) => key.AttributeName));
    await client.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: wanted.AttributeDefinitions?.filter((a) => keys.has(a.AttributeName)),
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
    await indexesActive(client, name);
  }
}

async function indexesActive(client: DynamoDBClient, name: string): Promise<void> {
  for (let round = 0; round < 600; round += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    if ((Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === "ACTIVE")) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`table ${name}: its new indexes did not become active within 2 minutes`);
}

export function createTableInput(name: string, schema: TableSchema): CreateTableCommandInput {
  const attributes = new Set<string>([schema.partitionKey]);
  if (schema.sortKey !== undefined) attributes.add(schema.sortKey);
  for (const index of Object.values(schema.indexes)) {
    attributes.add(index.partitionKey);
    if (index.sortKey !== undefined) attributes.add(index.sortKey);
  }
  const keySchema = (partitionKey: string, sortKey?: string) => [
    { AttributeName: partitionKey, KeyType: "HASH" as const },
    ...(sortKey === undefined ? [] : [{ AttributeName: sortKey, KeyType: "RANGE" as const }]),
  ];
  const indexes = Object.entries(schema.indexes);
  return {
    TableName: name,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [...attributes].map((AttributeName) => ({ AttributeName, AttributeType: "S" })),
    KeySchema: keySchema(schema.partitionKey, schema.sortKey),
    ...(indexes.length === 0
      ? {}
      : {
          GlobalSecondaryIndexes: indexes.map(([IndexName, index]) => ({
            IndexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection:
              index.include === undefined
                ? { ProjectionType: "KEYS_ONLY" }
                : { ProjectionType: "INCLUDE", NonKeyAttributes: [...index.include] },
          })),
        }),
  };
}

export interface RunQueueUrls {
  /** Runs on a named queue. */
  fifo: string;
  /** Every other run: a standard queue, read fairly across tenants (local/fair-queue-emulation.ts). */
  fair: string;
}

/** The two run queues, each with its dead-letter queue, as the CDK stack creates them. */
export async function ensureRunQueues(
  client: SQSClient,
  options: { name: string; visibilityTimeoutSeconds: number },
): Promise<RunQueueUrls> {
  const [fifo, fair] = await Promise.all([
    ensureQueueWithDlq(client, `${options.name}.fifo`, `${options.name}-dlq.fifo`, {
      FifoQueue: "true",
      ContentBasedDeduplication: "false",
      VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    }),
    ensureQueueWithDlq(client, `${options.name}-fair`, `${options.name}-fair-dlq`, {
      VisibilityTimeout: String(options.visibilityTimeoutSeconds),
    }),
  ]);
  return { fifo, fair };
}

async function ensureQueueWithDlq(
  client: SQSClient,
  name: string,
  dlqName: string,
  attributes: Record<string, string>,
): Promise<string> {
  const existing = await queueUrl(client, name);
  if (existing !== undefined) return existing;
  const fifo = attributes.FifoQueue === "true" ? { FifoQueue: "true" } : {};
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: dlqName,
      Attributes: { ...fifo, MessageRetentionPeriod: String(RUN_QUEUE.retentionSeconds) },
    }),
  );
  const dlqArn = (
    await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))
  ).Attributes?.QueueArn;
  const created = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        ...attributes,
        MaximumMessageSize: String(RUN_QUEUE.maximumMessageSizeBytes),
        MessageRetentionPeriod: String(RUN_QUEUE.retentionSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: RUN_QUEUE.maxReceiveCount,
        }),
      },
    }),
  );
  if (created.QueueUrl === undefined) throw new Error("CreateQueue returned no URL");
  return created.QueueUrl;
}

async function queueUrl(client: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist || (error as Error).name.includes("NonExistentQueue"))
      return undefined;
    throw error;
  }
}

/** The files bucket (S3 on fauxqs). */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}
