/**
 * The worker Lambda: a batch from either run queue in, partial batch failures out
 * (ReportBatchItemFailures). One function reads both queues through two event source mappings.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { batchGroupOf, type FifoRecord, processFifoBatch } from "../../shared/app/fifo-batch.ts";
import type { Services } from "../../shared/app/services.ts";

/** `context` is absent when the local runtime invokes it: no invocation deadline there. */
export type WorkerHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function createWorkerHandler(svc: Services): WorkerHandler {
  return async (event, context) => {
    const { failedMessageIds } = await processFifoBatch(
      svc,
      event.Records.map(toDelivery),
      context === undefined ? {} : { remainingMs: () => context.getRemainingTimeInMillis() },
    );
    return { batchItemFailures: failedMessageIds.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

/** A FIFO queue's name (so its ARN) ends in ".fifo": that is how a record tells its lane. */
function toDelivery(record: SQSRecord): FifoRecord {
  const delivery = {
    messageId: record.messageId,
    body: record.body,
    receipt: {
      lane: record.eventSourceARN.endsWith(".fifo") ? "fifo" : "fair",
      handle: record.receiptHandle,
    },
  } as const;
  return { ...delivery, groupId: batchGroupOf({ ...delivery, groupId: record.attributes.MessageGroupId }) };
}
