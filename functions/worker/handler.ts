/** The worker Lambda: an SQS FIFO batch in, partial batch failures out (ReportBatchItemFailures). */
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { processFifoBatch } from "../../shared/app/fifo-batch.ts";
import type { Services } from "../../shared/app/services.ts";

export type WorkerHandler = (event: SQSEvent) => Promise<SQSBatchResponse>;

export function createWorkerHandler(svc: Services): WorkerHandler {
  return async (event) => {
    const { failedMessageIds } = await processFifoBatch(
      svc,
      event.Records.map((record) => ({
        messageId: record.messageId,
        body: record.body,
        receiptHandle: record.receiptHandle,
        groupId: record.attributes.MessageGroupId ?? record.messageId,
      })),
    );
    return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
