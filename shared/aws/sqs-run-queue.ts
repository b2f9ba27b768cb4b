import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { bulkPageBody } from "../app/bulk-message.ts";
import { runMessageBody } from "../app/worker.ts";
import type { BulkPageMessage, RunLane, RunMessage, RunQueue, RunReceipt } from "../core/ports.ts";
import { AWS_LIMITS, checkSqsBody, sqsId } from "./aws-limits.ts";
import { messageGroupId, RUN_QUEUE, runLaneOf } from "./queues.ts";

/**
 * The run queues. A run on a named queue goes to the FIFO queue, where the queue is one message
 * group, so SQS itself keeps its runs in order and never hands out two at once. Every other run
 * goes to the fair queue (a standard queue with SQS fair queueing): its message group is the
 * tenant, so a tenant with thousands of runs waiting does not delay another tenant's run; a
 * standard queue may deliver a message twice, which the worker's conditional claim absorbs.
 * Ids past SQS's 128 characters (long tenant ids, workflow-step and chain run ids, resend
 * suffixes) are hashed by sqsId: deterministic, so grouping and deduplication still hold.
 */
export class SqsRunQueue implements RunQueue {
  readonly #client: SQSClient;
  readonly #urls: Record<RunLane, string>;

  constructor(options: { client: SQSClient; fifoQueueUrl: string; fairQueueUrl: string }) {
    this.#client = options.client;
    this.#urls = { fifo: options.fifoQueueUrl, fair: options.fairQueueUrl };
  }

  async enqueue(message: RunMessage, sendId?: string): Promise<void> {
    const body = runMessageBody(message);
    const lane = runLaneOf(message);
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#urls[lane],
        MessageBody: checkSqsBody(JSON.stringify(body), RUN_QUEUE.maximumMessageSizeBytes),
        MessageGroupId: sqsId(messageGroupId(message)),
        // Standard queues refuse a deduplication id.
        ...(lane === "fifo"
          ? {
              MessageDeduplicationId: sqsId(
                `${message.tenant}/${message.runId}${sendId === undefined ? "" : `/${sendId}`}`,
              ),
            }
          : {}),
      }),
    );
  }

  async enqueueBulkPage(message: BulkPageMessage): Promise<void> {
    // The fair lane, grouped by tenant: one tenant's bulk never holds back another tenant's runs.
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#urls.fair,
        MessageBody: checkSqsBody(JSON.stringify(bulkPageBody(message)), RUN_QUEUE.maximumMessageSizeBytes),
        MessageGroupId: sqsId(message.tenant),
      }),
    );
  }

  async setVisibility(receipt: RunReceipt, seconds: number): Promise<void> {
    try {
      await this.#client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.#urls[receipt.lane],
          ReceiptHandle: receipt.handle,
          VisibilityTimeout: Math.min(AWS_LIMITS.sqsMaxVisibilitySeconds, Math.max(0, Math.round(seconds))),
        }),
      );
    } catch (error) {
      // The message was deleted or handed to another consumer meanwhile: nothing left to hide.
      if (
        error instanceof Error &&
        /ReceiptHandleIsInvalid|MessageNotInflight|InvalidParameterValue/.test(error.name)
      ) {
        return;
      }
      throw error;
    }
  }
}
