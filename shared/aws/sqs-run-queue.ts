import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { RunMessageBody } from "../app/worker.ts";
import type { RunMessage, RunQueue } from "../core/ports.ts";
import { AWS_LIMITS, checkSqsBody, sqsId } from "./aws-limits.ts";
import { messageGroupId, RUN_QUEUE } from "./queues.ts";

/**
 * The FIFO run queue. A named queue is one message group, so SQS itself keeps its runs in order
 * and never hands out two at once; a run without a queue is a group of its own. Tenant and queue
 * names cannot contain '/' while run ids are joined with it, so the two kinds never collide.
 * Ids past SQS's 128 characters (long tenant ids, workflow-step and chain run ids, resend
 * suffixes) are hashed by sqsId: deterministic, so grouping and deduplication still hold.
 */
export class SqsRunQueue implements RunQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(options: { client: SQSClient; queueUrl: string }) {
    this.#client = options.client;
    this.#queueUrl = options.queueUrl;
  }

  async enqueue(message: RunMessage, sendId?: string): Promise<void> {
    const body: RunMessageBody = {
      v: 1,
      tenant: message.tenant,
      runId: message.runId,
      ...(message.timeoutSeconds === undefined ? {} : { timeoutSeconds: message.timeoutSeconds }),
    };
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: checkSqsBody(JSON.stringify(body), RUN_QUEUE.maximumMessageSizeBytes),
        MessageGroupId: sqsId(messageGroupId(message)),
        MessageDeduplicationId: sqsId(
          `${message.tenant}/${message.runId}${sendId === undefined ? "" : `/${sendId}`}`,
        ),
      }),
    );
  }

  async setVisibility(receiptHandle: string, seconds: number): Promise<void> {
    try {
      await this.#client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.#queueUrl,
          ReceiptHandle: receiptHandle,
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
