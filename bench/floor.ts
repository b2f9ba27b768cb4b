/**
 * The floor: the least a task lifecycle on SQS FIFO + DynamoDB can do, written by hand with the
 * AWS SDK on the same emulators as Baton. Per task: put the item, send the message; a poller
 * receives it (batches of 10, as many pollers as Baton's worker has batches), claims it
 * (conditional update queued → running), runs an echo, ends it (conditional update running →
 * succeeded) and deletes the message. Messages of one group in a batch run one after another,
 * as in Baton's worker; other groups in parallel. No API, no auth, no limits, no retries, no
 * leases: what is left is the cost of the services themselves.
 */
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { ensureRunQueues } from "../local/bootstrap.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/emulators.ts";
import type { AwsCallCounter } from "../shared/aws/call-counter.ts";
import { atRate, flood, waitUntil } from "./bench-stack.ts";

export interface FloorOptions {
  endpoints: { dynamodb: string; sqs: string };
  prefix: string;
  pollers: number;
  counter: AwsCallCounter;
}

interface Times {
  created: number;
  started?: number;
  ended?: number;
}

export class Floor {
  readonly #dynamo: DynamoDBClient;
  readonly #sqs: SQSClient;
  readonly #table: string;
  readonly #queueUrl: string;
  readonly #times = new Map<string, Times>();
  readonly #abort = new AbortController();
  #pollers: Promise<void>[] = [];
  #next = 0;

  private constructor(dynamo: DynamoDBClient, sqs: SQSClient, table: string, queueUrl: string) {
    this.#dynamo = dynamo;
    this.#sqs = sqs;
    this.#table = table;
    this.#queueUrl = queueUrl;
  }

  static async start(options: FloorOptions): Promise<Floor> {
    const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    const dynamo = new DynamoDBClient({ ...common, endpoint: options.endpoints.dynamodb });
    const sqs = new SQSClient({ ...common, endpoint: options.endpoints.sqs });
    const table = `${options.prefix}floor-runs`;
    await dynamo.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      }),
    );
    // The floor is one FIFO queue (its fair twin is created alongside and left unused).
    const queueUrl = (
      await ensureRunQueues(sqs, { name: `${options.prefix}floor`, visibilityTimeoutSeconds: 30 })
    ).fifo;
    options.counter.attach(dynamo);
    options.counter.attach(sqs);
    const floor = new Floor(dynamo, sqs, table, queueUrl);
    for (let i = 0; i < options.pollers; i += 1) floor.#pollers.push(floor.#poll());
    return floor;
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#pollers);
    this.#dynamo.destroy();
    this.#sqs.destroy();
  }

  /** Puts a run and sends its message; `group` serializes runs as a named queue does. */
  async startTask(group?: string): Promise<string> {
    const id = `f${String(this.#next++).padStart(7, "0")}`;
    const created = Date.now();
    this.#times.set(id, { created });
    await this.#dynamo.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          id: { S: id },
          status: { S: "queued" },
          params: { M: { text: { S: "hello" } } },
          createdAt: { N: String(created) },
        },
        ConditionExpression: "attribute_not_exists(id)",
      }),
    );
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: id,
        MessageGroupId: group ?? id,
        MessageDeduplicationId: id,
      }),
    );
    return id;
  }

  times(ids: string[]): Times[] {
    return ids.map((id) => this.#times.get(id) ?? { created: Number.NaN });
  }

  async untilEnded(ids: string[]): Promise<void> {
    await waitUntil(`${ids.length} floor runs`, async () =>
      ids.every((id) => this.#times.get(id)?.ended !== undefined),
    );
  }

  /** Conditional update awaiting → succeeded: the least a callback can do. */
  async completeAwaiting(): Promise<number> {
    const id = `c${String(this.#next++).padStart(7, "0")}`;
    await this.#dynamo.send(
      new PutItemCommand({ TableName: this.#table, Item: { id: { S: id }, status: { S: "awaiting" } } }),
    );
    const t0 = performance.now();
    await this.#dynamo.send(this.#transition(id, "awaiting", "succeeded", "endedAt"));
    return performance.now() - t0;
  }

  #transition(id: string, from: string, to: string, stamp: string) {
    return new UpdateItemCommand({
      TableName: this.#table,
      Key: { id: { S: id } },
      UpdateExpression: `SET #status = :to, ${stamp} = :now`,
      ConditionExpression: "#status = :from",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":to": { S: to },
        ":from": { S: from },
        ":now": { N: String(Date.now()) },
      },
    });
  }

  async #poll(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      let messages: Message[];
      try {
        const received = await this.#sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.#queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageSystemAttributeNames: ["MessageGroupId"],
          }),
          { abortSignal: this.#abort.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (this.#abort.signal.aborted) return;
        throw error;
      }
      if (messages.length === 0) continue;
      const groups = new Map<string, Message[]>();
      for (const m of messages) {
        const group = m.Attributes?.MessageGroupId ?? m.MessageId ?? "";
        groups.set(group, [...(groups.get(group) ?? []), m]);
      }
      await Promise.all(
        [...groups.values()].map(async (group) => {
          for (const message of group) await this.#run(message.Body ?? "");
        }),
      );
      await this.#sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.#queueUrl,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
  }

  async #run(id: string): Promise<void> {
    const times = this.#times.get(id);
    if (times === undefined) return;
    times.started = Date.now();
    await this.#dynamo.send(this.#transition(id, "queued", "running", "startedAt"));
    // The echo handler's work: nothing.
    await this.#dynamo.send(this.#transition(id, "running", "succeeded", "endedAt"));
    times.ended = Date.now();
  }
}

/** Tasks/s from the first start to the last end, `clients` starting them. */
export async function floorThroughput(floor: Floor, tasks: number, clients: number): Promise<number> {
  const ids: string[] = [];
  const t0 = Date.now();
  await flood(clients, tasks, async () => ids.push(await floor.startTask()));
  await floor.untilEnded(ids);
  return tasks / ((Math.max(...floor.times(ids).map((t) => t.ended ?? Number.NaN)) - t0) / 1000);
}

/** Enqueue → start latency at a steady rate, ms. */
export async function floorSteadyLatency(floor: Floor, perSecond: number, count: number): Promise<number[]> {
  const ids: string[] = [];
  await atRate(perSecond, count, async () => ids.push(await floor.startTask()));
  await floor.untilEnded(ids);
  return floor.times(ids).map((t) => (t.started ?? Number.NaN) - t.created);
}

/** Runs/s through one message group. */
export async function floorSerialized(
  floor: Floor,
  count: number,
): Promise<{ rate: number; overlaps: number }> {
  const ids: string[] = [];
  await flood(1, count, async () => ids.push(await floor.startTask("line")));
  await floor.untilEnded(ids);
  const runs = floor.times(ids).sort((x, y) => (x.started ?? 0) - (y.started ?? 0));
  const overlaps = runs.filter((r, i) => i > 0 && (r.started ?? 0) < (runs[i - 1]?.ended ?? 0)).length;
  const span = (runs.at(-1)?.ended ?? Number.NaN) - (runs[0]?.started ?? Number.NaN);
  return { rate: count / (span / 1000), overlaps };
}
