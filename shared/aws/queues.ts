import type { RunLane } from "../core/ports.ts";

/** Run queue settings, shared by the CDK stack and the local bootstrap. */
export const RUN_QUEUE = {
  /** Messages are tiny ({tenant, runId}); the explicit maximum documents the claim-check design. */
  maximumMessageSizeBytes: 262_144,
  retentionSeconds: 14 * 24 * 60 * 60,
  /**
   * Every delivery of a run's message counts: attempts (≤ 20), backoff waits and duplicates seen
   * while a live worker holds the run. Only a message that keeps failing to be processed at all
   * should reach the DLQ, so the bar sits well above the attempt limit.
   */
  maxReceiveCount: 50,
} as const;

/** The lane a run's message travels on: its named queue's FIFO group, or the tenant-fair queue. */
export function runLaneOf(message: { queue?: string }): RunLane {
  return message.queue === undefined ? "fair" : "fifo";
}

/**
 * The message group of a run's message. On the FIFO lane a named queue is one group (its runs
 * never overlap and start in order). On the fair lane the group is the tenant: SQS fair queues
 * hand a quiet tenant's messages out ahead of a noisy tenant's backlog, and never serialize a group.
 */
export function messageGroupId(message: { tenant: string; runId: string; queue?: string }): string {
  return message.queue === undefined ? message.tenant : `${message.tenant}#${message.queue}`;
}
