/**
 * Processes one batch of SQS FIFO messages the way the Lambda event source mapping expects:
 * message groups in parallel, each group in order, and a group stops at its first message that
 * is not done (that message and the group's later ones are reported as failures, so order holds).
 *
 * Powertools' SqsFifoPartialProcessorAsync has the same failure rule but runs the whole batch
 * one message at a time; runs without a named queue are each their own group, so running groups
 * concurrently is what lets them overlap.
 */

import type { Services } from "./services.ts";
import { type Delivery, type DeliveryResult, processDelivery } from "./worker.ts";

export interface FifoRecord extends Delivery {
  groupId: string;
}

export async function processFifoBatch(
  svc: Services,
  records: readonly FifoRecord[],
  process: (svc: Services, delivery: Delivery) => Promise<DeliveryResult> = processDelivery,
): Promise<{ failedMessageIds: string[] }> {
  const groups = new Map<string, FifoRecord[]>();
  for (const record of records) {
    const group = groups.get(record.groupId) ?? [];
    group.push(record);
    groups.set(record.groupId, group);
  }
  const failed = await Promise.all([...groups.values()].map((group) => processGroup(svc, group, process)));
  return { failedMessageIds: failed.flat() };
}

async function processGroup(
  svc: Services,
  group: readonly FifoRecord[],
  process: (svc: Services, delivery: Delivery) => Promise<DeliveryResult>,
): Promise<string[]> {
  for (const [index, record] of group.entries()) {
    let result: DeliveryResult;
    try {
      result = await process(svc, record);
    } catch (error) {
      // Infrastructure trouble (a store or queue call failed): leave it to the visibility timeout.
      svc.log.error("message processing failed", { messageId: record.messageId, error });
      return group.slice(index).map((r) => r.messageId);
    }
    if (result.kind === "later") {
      const rest = group.slice(index + 1);
      await Promise.all([
        svc.queue.setVisibility(record.receiptHandle, result.seconds),
        // The group stays blocked by the hidden message, so its later messages may show again at
        // once; otherwise they would hold the group until their own timeout ran out.
        ...rest.map((r) => svc.queue.setVisibility(r.receiptHandle, 0)),
      ]).catch((error: unknown) => svc.log.warn("could not change message visibility", { error }));
      return group.slice(index).map((r) => r.messageId);
    }
  }
  return [];
}
