/** What every bench starts from: the local stack with a call counter, a tenant "bench" and an HTTP helper. */

import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/emulators.ts";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../local/stack.ts";
import { ensureTenantKey } from "../shared/app/identity.ts";
import { AwsCallCounter } from "../shared/aws/call-counter.ts";
import { createAwsClients } from "../shared/aws/clients.ts";
import { DynamoRunStore } from "../shared/aws/dynamo-run-store.ts";
import type { Log } from "../shared/core/ports.ts";
import type { Run } from "../shared/core/run.ts";
import { newApiKey } from "../shared/core/tenant.ts";
import { registry } from "../tasks/index.ts";

const quiet: Log = { debug() {}, info() {}, warn() {}, error: (m, ...e) => console.error(m, ...e) };

export interface BenchStack {
  stack: LocalStack;
  counter: AwsCallCounter;
  /** Every run of a definition of tenant "bench", read on a client the counter does not see. */
  allRuns(definition: string): Promise<Run[]>;
  /** A reader the counter does not see, so watching runs adds nothing to the figures. */
  observer: DynamoRunStore;
  /** Calls the API as tenant "bench" (or with `bearer`); throws on any non-2xx answer. */
  call(method: string, path: string, body?: unknown, bearer?: string): Promise<unknown>;
}

export async function startBenchStack(options: Partial<LocalStackOptions> = {}): Promise<BenchStack> {
  const counter = new AwsCallCounter();
  const stack = await startLocalStack({ registry, port: 0, callCounter: counter, log: quiet, ...options });
  const key = newApiKey().key;
  await ensureTenantKey(stack.services, { tenant: "bench", role: "admin", key });
  const call: BenchStack["call"] = async (method, path, body, bearer = key) => {
    const response = await fetch(`${stack.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status >= 300)
      throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
    return response.json();
  };
  const observer = new DynamoRunStore({
    client: createAwsClients({
      region: LOCAL_REGION,
      endpoints: stack.endpoints,
      credentials: LOCAL_CREDENTIALS,
    }).dynamo,
    tableName: `${stack.prefix}runs`,
    countersTable: `${stack.prefix}counters`,
  });
  const allRuns: BenchStack["allRuns"] = async (definition) => {
    const runs: Run[] = [];
    let cursor: string | undefined;
    do {
      const page = await observer.list({
        tenant: "bench",
        definition,
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      runs.push(...page.items);
      cursor = page.cursor;
    } while (cursor !== undefined);
    return runs;
  };
  return { stack, counter, call, observer, allRuns };
}

/** The p-th percentile (0-100) of some figures. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
