/** The worker Lambda: an SQS FIFO batch in, partial batch failures out (ReportBatchItemFailures). */
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { processFifoBatch } from "../../shared/app/fifo-batch.ts";
import type { Services } from "../../shared/app/services.ts";

/** `context` is absent when the local runtime invokes it: no invocation deadline there. */
export type WorkerHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function createWorkerHandler(svc: Services): WorkerHandler {
  return async (event, context) => {
    const { failedMessageIds } = await processFifoBatch(
      svc,
      event.Records.map((record) => ({
        messageId: record.messageId,
        body: record.body,
        receiptHandle: record.receiptHandle,
        groupId: record.attributes.MessageGroupId ?? record.messageId,
      })),
      context === undefined ? {} : { remainingMs: () => context.getRemainingTimeInMillis() },
    );
    return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}
