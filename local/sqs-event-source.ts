/**
 * Drives the worker handler from the FIFO queue the way Lambda's SQS event source mapping does:
 * batches of up to 10 received messages become one SQSEvent, messages the handler does not
 * report as failed are deleted, and failed ones stay for SQS to deliver again (partial batch
 * responses). `concurrency` is the number of batches in flight, like concurrent invocations.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import type { WorkerHandler } from "../functions/worker/handler.ts";
import type { Log } from "../shared/core/ports.ts";

export interface EventSourceOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn?: string;
  handler: WorkerHandler;
  log: Log;
  concurrency: number;
  batchSize?: number;
  /** Long-poll wait; short keeps shutdown quick. */
  waitSeconds?: number;
}

export class SqsEventSource {
  readonly #options: EventSourceOptions;
  #running = false;
  #loops: Promise<void>[] = [];
  readonly #abort = new AbortController();

  constructor(options: EventSourceOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (let i = 0; i < this.#options.concurrency; i += 1) this.#loops.push(this.#poll());
  }

  /** Stops receiving and waits for the batches in flight to finish. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  async #poll(): Promise<void> {
    const { client, queueUrl, log } = this.#options;
    while (this.#running) {
      let messages: Message[];
      try {
        const result = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: this.#options.batchSize ?? 10,
            WaitTimeSeconds: this.#options.waitSeconds ?? 1,
            MessageSystemAttributeNames: ["All"],
          }),
          { abortSignal: this.#abort.signal },
        );
        messages = result.Messages ?? [];
      } catch (error) {
        if (!this.#running) return;
        log.warn("receive failed; retrying", { error });
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (messages.length === 0) continue;
      await this.#invoke(messages);
    }
  }

  async #invoke(messages: Message[]): Promise<void> {
    const { client, queueUrl, handler, log } = this.#options;
    const event: SQSEvent = { Records: messages.map((m) => this.#toRecord(m)) };
    let failed: Set<string>;
    try {
      const response = await handler(event);
      failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    } catch (error) {
      // Like Lambda: an invocation that throws fails the whole batch; SQS redelivers it.
      log.error("worker invocation failed", { error });
      return;
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ""));
    if (done.length === 0) return;
    try {
      const result = await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      if ((result.Failed ?? []).length > 0) log.warn("some deletes failed", { failed: result.Failed });
    } catch (error) {
      log.warn("delete failed; the messages will be delivered again", { error });
    }
  }

  #toRecord(message: Message): SQSRecord {
    const attributes = message.Attributes ?? {};
    return {
      messageId: message.MessageId ?? "",
      receiptHandle: message.ReceiptHandle ?? "",
      body: message.Body ?? "",
      attributes: {
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
        SentTimestamp: attributes.SentTimestamp ?? "",
        SenderId: attributes.SenderId ?? "",
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? "",
        ...(attributes.MessageGroupId === undefined ? {} : { MessageGroupId: attributes.MessageGroupId }),
        ...(attributes.SequenceNumber === undefined ? {} : { SequenceNumber: attributes.SequenceNumber }),
        ...(attributes.MessageDeduplicationId === undefined
          ? {}
          : { MessageDeduplicationId: attributes.MessageDeduplicationId }),
      },
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? "",
      eventSource: "aws:sqs",
      eventSourceARN: this.#options.queueArn ?? "",
      awsRegion: "us-east-1",
    };
  }
}
