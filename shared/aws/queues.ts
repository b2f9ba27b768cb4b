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

/**
 * The FIFO message group of a run's message: a named queue is one group (its runs never overlap
 * and start in order); a run without one is a group of its own.
 */
export function messageGroupId(message: { tenant: string; runId: string; queue?: string }): string {
  return message.queue === undefined
    ? `${message.tenant}/${message.runId}`
    : `${message.tenant}#${message.queue}`;
}
