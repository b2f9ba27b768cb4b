/**
 * AWS list prices, us-east-1, USD, as checked on 2026-11-22 on the pricing pages below (the
 * DynamoDB on-demand prices are those after the November 2024 cut). Free tiers are left out:
 * these are the prices per request past them. Change them here only.
 */
export const PRICES = {
  checked: "2026-11-22",
  region: "us-east-1",
  /** https://aws.amazon.com/sqs/pricing/ — FIFO requests; each 64 KB chunk of a payload is one request. */
  sqsFifoPerRequest: 0.5 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ — per write request unit (1 KB; ×2 in a transaction). */
  dynamoPerWriteUnit: 0.625 / 1e6,
  /** https://aws.amazon.com/dynamodb/pricing/on-demand/ — per read request unit (4 KB strongly consistent). */
  dynamoPerReadUnit: 0.125 / 1e6,
  /** https://aws.amazon.com/lambda/pricing/ — per invocation (compute is the handler's, left out). */
  lambdaPerRequest: 0.2 / 1e6,
  /** https://aws.amazon.com/eventbridge/pricing/ — EventBridge Scheduler, per scheduled invocation. */
  schedulerPerInvocation: 1.0 / 1e6,
  /** https://aws.amazon.com/api-gateway/pricing/ — HTTP API, per request (first 300 million a month). */
  httpApiPerRequest: 1.0 / 1e6,
  /** https://aws.amazon.com/step-functions/pricing/ — Standard, per state transition. */
  stepFunctionsStandardPerTransition: 0.025 / 1e3,
  /** https://aws.amazon.com/step-functions/pricing/ — Express, per request. */
  stepFunctionsExpressPerRequest: 1.0 / 1e6,
  /** https://aws.amazon.com/step-functions/pricing/ — Express duration, per GB-second (64 MB, 100 ms steps). */
  stepFunctionsExpressPerGbSecond: 0.00001667,
} as const;

/** What one task used, per task. */
export interface Usage {
  sqsRequests: number;
  writeUnits: number;
  readUnits: number;
  lambdaInvocations: number;
  schedulerInvocations: number;
  apiRequests: number;
}

/** USD per million tasks before handler compute, without API Gateway (priced apart). */
export function pricePerMillion(usage: Usage): number {
  return (
    1e6 *
    (usage.sqsRequests * PRICES.sqsFifoPerRequest +
      usage.writeUnits * PRICES.dynamoPerWriteUnit +
      usage.readUnits * PRICES.dynamoPerReadUnit +
      usage.lambdaInvocations * PRICES.lambdaPerRequest +
      usage.schedulerInvocations * PRICES.schedulerPerInvocation)
  );
}

export function httpApiPerMillion(usage: Usage): number {
  return 1e6 * usage.apiRequests * PRICES.httpApiPerRequest;
}

/**
 * Step Functions for the same work, as a state machine of `states` Task states (one per task;
 * a plain task is a 2-state machine: do the work, record the end). Standard bills one
 * transition per state entered (no retries); Express bills the request and its duration at the
 * 64 MB minimum, rounded up to 100 ms.
 */
export function stepFunctionsPerMillion(
  states: number,
  seconds = 0.1,
): { standard: number; express: number } {
  const transitions = states;
  const gbSeconds = (64 / 1024) * Math.max(0.1, Math.ceil(seconds * 10) / 10);
  return {
    standard: 1e6 * transitions * PRICES.stepFunctionsStandardPerTransition,
    express:
      1e6 * (PRICES.stepFunctionsExpressPerRequest + gbSeconds * PRICES.stepFunctionsExpressPerGbSecond),
  };
}
