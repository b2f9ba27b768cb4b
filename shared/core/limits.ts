/**
 * Size limits. A run is one DynamoDB item (400 KB at most), so its parts share that budget:
 * params 256 KiB + output 64 KiB + feedback 16 KiB + logs 32 KiB + once results 16 KiB
 * leaves room for the bookkeeping attributes.
 */
export const LIMITS = {
  paramsBytes: 256 * 1024,
  /** Whole request bodies; params are measured separately and get the precise message. */
  requestBodyBytes: 300 * 1024,
  /** Objects and arrays in a request body nest at most this deep (checked before parsing). */
  requestBodyDepth: 64,
  outputBytes: 64 * 1024,
  feedbackChars: 16 * 1024,
  logLineChars: 2 * 1024,
  /** Total characters of stored log lines; older lines are dropped first and counted. */
  logChars: 32 * 1024,
  onceResultBytes: 16 * 1024,
  maxAttempts: 20,
  maxConcurrency: 10_000,
  maxQueueLength: 1_000_000,
  /**
   * A worker Lambda lives at most 15 minutes; one attempt must end (and be recorded) inside it.
   * Longer work belongs in callback mode (the outside system reports back).
   */
  maxTimeoutSeconds: 14 * 60,
  /** An outside system may take up to 7 days to call back. */
  maxCallbackTimeoutSeconds: 7 * 24 * 60 * 60,
  subtextChars: 2_000,
  /** Delayed starts reach at most a year ahead. */
  maxDelayMs: 365 * 24 * 60 * 60 * 1000,
  idempotencyKeyChars: 256,
  idempotencyTtlSeconds: 24 * 60 * 60,
  listPageSize: 100,
} as const;

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
}
