/**
 * Processes one batch of SQS FIFO messages the way the Lambda event source mapping expects:
 * message groups in parallel, each group in order, and a group stops at its first message that
 * is not done (that message and the group's later ones are reported as failures, so order holds).
 *
 * Powertools' SqsFifoPartialProcessorAsync has the same failure rule but runs the whole batch
 * one message at a time; runs without a named queue are each their own group, so running groups
 * concurrently is what lets them overlap.
 */

import type { RunReceipt } from "../core/ports.ts";
import { withLogContext } from "./log-context.ts";
import type { Services } from "./services.ts";
import { type Delivery, type DeliveryResult, parseRunMessage, processDelivery } from "./worker.ts";

export interface FifoRecord extends Delivery {
  /** Records of one group run one after another, in order; different groups side by side. */
  groupId: string;
}

/**
 * The group a received message is processed in. Only on the FIFO lane does an SQS message group
 * mean "one at a time, in order"; on the fair lane the group is the tenant, and a tenant's runs in
 * one batch run side by side, so each message is a group of its own.
 */
export function batchGroupOf(message: { messageId: string; receipt: RunReceipt; groupId?: string }): string {
  return message.receipt.lane === "fifo" ? (message.groupId ?? message.messageId) : message.messageId;
}

export interface BatchOptions {
  /** Milliseconds left in this invocation (Lambda); unbounded when absent (the local runtime). */
  remainingMs?: () => number;
  process?: (svc: Services, delivery: Delivery) => Promise<DeliveryResult>;
}

/** Room kept after a run's timeout for recording its outcome before the invocation ends. */
const RECORDING_MARGIN_MS = 20_000;

export async function processFifoBatch(
  svc: Services,
  records: readonly FifoRecord[],
  options: BatchOptions = {},
): Promise<{ failedMessageIds: string[] }> {
  const process = options.process ?? processDelivery;
  const groups = new Map<string, FifoRecord[]>();
  for (const record of records) {
    const group = groups.get(record.groupId) ?? [];
    group.push(record);
    groups.set(record.groupId, group);
  }
  const failed = await Promise.all(
    [...groups.values()].map((group) => processGroup(svc, group, process, options.remainingMs)),
  );
  return { failedMessageIds: failed.flat() };
}

async function processGroup(
  svc: Services,
  group: readonly FifoRecord[],
  process: (svc: Services, delivery: Delivery) => Promise<DeliveryResult>,
  remainingMs: (() => number) | undefined,
): Promise<string[]> {
  for (const [index, record] of group.entries()) {
    let result: DeliveryResult;
    const message = parseRunMessage(record.body);
    // Every line logged while this message is processed names its run.
    const keys = { messageId: record.messageId, tenant: message?.tenant, taskId: message?.runId };
    try {
      // A group's runs go one after another inside one invocation; one that could not finish
      // before the invocation ends goes back to the queue untouched, for a fresh invocation.
      const timeoutMs = (message?.timeoutSeconds ?? 0) * 1000;
      const tooLate = remainingMs !== undefined && remainingMs() < timeoutMs + RECORDING_MARGIN_MS;
      result = tooLate
        ? { kind: "later", seconds: 0 }
        : await withLogContext(keys, () => process(svc, record));
    } catch (error) {
      // Infrastructure trouble (a store or queue call failed): leave it to the visibility timeout.
      svc.log.error("message processing failed", { ...keys, error });
      return group.slice(index).map((r) => r.messageId);
    }
    if (result.kind === "later") {
      const rest = group.slice(index + 1);
      await Promise.all([
        svc.queue.setVisibility(record.receipt, result.seconds),
        // The group stays blocked by the hidden message, so its later messages may show again at
        // once; otherwise they would hold the group until their own timeout ran out.
        ...rest.map((r) => svc.queue.setVisibility(r.receipt, 0)),
      ]).catch((error: unknown) => svc.log.warn("could not change message visibility", { ...keys, error }));
      return group.slice(index).map((r) => r.messageId);
    }
  }
  return [];
}
