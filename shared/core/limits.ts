/**
 * Size limits. A run's small hot item holds its state; params, output and logs above 200 bytes
 * live in items beside it, and params or output above 256 KiB in S3 (claim check,
 * shared/aws/payload-store.ts). What bounds params and output is then the API path: API Gateway
 * takes 10 MB, but a Lambda request or response is at most 6 MB as the JSON it travels in, where
 * the body is one JSON string and each `"` or `\` in it doubles. A run's GET answers its params
 * and output together: 1 MiB each, with logs, feedback and once results, stays under the 2.5 MB
 * that fits a Lambda response whatever it holds (`responseBodyBytes`).
 */
export const LIMITS = {
  /** A run's params (defaults merged in), as JSON: the API's documented maximum. */
  paramsBytes: 1024 * 1024,
  /** A definition's default params: they live in the definition's own DynamoDB item (400 KB). */
  defaultParamsBytes: 256 * 1024,
  /**
   * Whole request bodies: params at their maximum and the rest of a start. Params are measured
   * separately and get the precise message.
   */
  requestBodyBytes: 1024 * 1024 + 64 * 1024,
  /** Objects and arrays in a request body nest at most this deep (checked before parsing). */
  requestBodyDepth: 64,
  /** A run's output, as JSON: the API's documented maximum (see paramsBytes). */
  outputBytes: 1024 * 1024,
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
  /** A list shows the newest end of a run's feedback, this long; the run itself has all of it. */
  summaryFeedbackChars: 1_000,
  /**
   * A response body (as JSON) the api stops a page before. A Lambda response is at most 6 MB
   * (6,291,456 bytes) as the JSON it travels in, where the body is one JSON string: each `"` and
   * `\` in the body doubles there, so a body of at most 2.5 MB fits whatever it holds, with room
   * for the status and headers. Lists that are not bounded by construction stop at this size.
   */
  responseBodyBytes: 2_500_000,
  /** AWS Lambda's limit on a synchronous response payload (API Gateway answers 5xx above it). */
  lambdaResponseBytes: 6 * 1024 * 1024,
} as const;

/**
 * A run's params or output whose JSON is above this many bytes is kept in S3, its item beside the
 * run holding a pointer (claim check, shared/aws/payload-store.ts): well under DynamoDB's 400 KB
 * item limit, so that item keeps room for its keys and expiry.
 */
export const CLAIM_CHECK_BYTES = 256 * 1024;

/**
 * How far a chain tree (a run and everything its chains start, hop after hop, in any tenant) may
 * grow. `maxDepth`: hops below the root; `maxRuns`: runs in the tree, the root included. Either
 * refusal is recorded on the source run's chain outcome. Defaults for every tenant; an operator may
 * set a tenant's own (`PUT /v1/tenants/{id}/limits`) up to the ceilings.
 */
export const CHAIN_TREE_LIMITS = {
  maxDepth: 8,
  maxDepthCeiling: 16,
  maxRuns: 1_000,
  maxRunsCeiling: 10_000,
} as const;

export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? "", "utf8");
}

/** The leading items whose JSON stays within maxBytes (at least one: a single item always fits a page). */
export function fitBytes<T>(items: T[], maxBytes: number | undefined): T[] {
  if (maxBytes === undefined) return items;
  let total = 0;
  let count = 0;
  for (const item of items) {
    total += jsonBytes(item) + 1;
    if (total > maxBytes && count > 0) break;
    count += 1;
  }
  return items.slice(0, count);
}
