/**
 * What every bench starts from: the local stack with a call counter, a tenant "bench", an HTTP
 * helper that counts API requests (each is an API Lambda invocation on AWS), and the small
 * helpers of timing: percentiles, paced starts, polling.
 */

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/emulators.ts";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../local/stack.ts";
import { ensureTenantKey } from "../shared/app/identity.ts";
import { AwsCallCounter, type KeyAttribution, tablesKeyAttribution } from "../shared/aws/call-counter.ts";
import { createAwsClients } from "../shared/aws/clients.ts";
import { DynamoRunStore } from "../shared/aws/dynamo-run-store.ts";
import type { Log } from "../shared/core/ports.ts";
import type { RunStatus, RunSummary } from "../shared/core/run.ts";
import { newApiKey } from "../shared/core/tenant.ts";
import { registry } from "../tasks/index.ts";

const quiet: Log = { debug() {}, info() {}, warn() {}, error: (m, ...e) => console.error(m, ...e) };

export interface BenchStack {
  stack: LocalStack;
  counter: AwsCallCounter;
  /** Every run of a definition of tenant "bench", read on a client the counter does not see. */
  allRuns(definition: string, tenant?: string, status?: RunStatus): Promise<RunSummary[]>;
  /** A reader the counter does not see, so watching runs adds nothing to the figures. */
  observer: DynamoRunStore;
  /** The DynamoDB client under `observer`, for what the bench reads or seeds itself. */
  dynamo: DynamoDBDocumentClient;
  /** How many runs of a definition have succeeded (from the run metrics; no AWS call). */
  succeeded(definition: string, tenant?: string): Promise<number>;
  /** Calls the API as tenant "bench" (or with `bearer`); throws on any non-2xx answer. */
  call(method: string, path: string, body?: unknown, bearer?: string): Promise<unknown>;
  /** Requests made through `call` since the last reset of the counter through `resetCounts`. */
  apiRequests(): number;
  /** Resets the AWS call counter and the API request count together. */
  resetCounts(): void;
  /** What the counter needs to attribute write units to partition keys (counter.attributeKeys). */
  keyAttribution: KeyAttribution;
  /** The tenants, definitions and named queues the bench made, for key shapes (bench/hot-keys.ts). */
  names: { tenants: Set<string>; definitions: Set<string>; queues: Set<string> };
}

export async function startBenchStack(options: Partial<LocalStackOptions> = {}): Promise<BenchStack> {
  const counter = new AwsCallCounter();
  // Succeeded runs are counted from the stack's own run metrics as they are recorded, so that
  // watching for them reads nothing from DynamoDB Local (polling a 10,000-run index partition
  // would load the emulator that is being measured).
  const successes = new Map<string, number>();
  const stack = await startLocalStack({
    registry,
    port: 0,
    callCounter: counter,
    log: quiet,
    onRunMetrics: (run, values) => {
      if (values.RunsSucceeded === undefined) return;
      const key = `${run.tenant}#${run.definition}`;
      successes.set(key, (successes.get(key) ?? 0) + values.RunsSucceeded);
    },
    ...options,
  });
  const key = newApiKey().key;
  await ensureTenantKey(stack.services, { tenant: "bench", role: "admin", key });
  let requests = 0;
  const call: BenchStack["call"] = async (method, path, body, bearer = key) => {
    if (method !== "GET") requests += 1;
    const response = await fetch(`${stack.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status >= 300)
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const observerClient = createAwsClients({
    region: LOCAL_REGION,
    endpoints: stack.endpoints,
    credentials: LOCAL_CREDENTIALS,
  }).dynamo;
  const observer = new DynamoRunStore({
    client: observerClient,
    tableName: `${stack.prefix}runs`,
    countersTable: `${stack.prefix}counters`,
  });
  // Written items are read on a client of their own, which the counter does not see.
  const keyAttribution = tablesKeyAttribution(
    new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: stack.endpoints.dynamodb,
      credentials: LOCAL_CREDENTIALS,
    }),
    stack.prefix,
  );
  const succeeded: BenchStack["succeeded"] = async (definition, tenant = "bench") =>
    successes.get(`${tenant}#${definition}`) ?? 0;
  const allRuns: BenchStack["allRuns"] = async (definition, tenant = "bench", status) => {
    const runs: RunSummary[] = [];
    let cursor: string | undefined;
    do {
      const page = await observer.list({
        tenant,
        definition,
        ...(status === undefined ? {} : { status }),
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      runs.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return runs;
  };
  return {
    stack,
    counter,
    call,
    observer,
    dynamo: observerClient,
    allRuns,
    succeeded,
    apiRequests: () => requests,
    keyAttribution,
    names: { tenants: new Set(["bench"]), definitions: new Set(), queues: new Set() },
    resetCounts() {
      counter.reset();
      requests = 0;
    },
  };
}

/** The p-th percentile (0-100) of some figures. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds; fails after `timeoutMs` rather than hanging a bench. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Calls `start(i)` for i < count at `perSecond`, on a fixed timetable (not after each answer). */
export async function atRate(perSecond: number, count: number, start: (i: number) => Promise<unknown>) {
  const t0 = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i += 1) {
    const due = t0 + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(start(i));
  }
  await Promise.all(pending);
}

/** Calls `start(i)` for i < count from `clients` concurrent callers, each waiting for its answer. */
export async function flood(clients: number, count: number, start: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count) await start(next++);
    }),
  );
}

/** p50 / p95 / p99 (or the given percentiles) of some figures. */
export function percentiles(values: number[], ps: number[] = [50, 95, 99]): number[] {
  return ps.map((p) => percentile(values, p));
}

/** Milliseconds as a person reads them: one decimal below 10, whole above. */
export function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : ms.toFixed(0);
}
