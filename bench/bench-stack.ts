/** What every bench starts from: the local stack with a call counter, a tenant "bench" and an HTTP helper. */
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../local/stack.ts";
import { ensureTenantKey } from "../shared/app/identity.ts";
import { AwsCallCounter } from "../shared/aws/call-counter.ts";
import type { Log } from "../shared/core/ports.ts";
import { newApiKey } from "../shared/core/tenant.ts";
import { registry } from "../tasks/index.ts";

const quiet: Log = { debug() {}, info() {}, warn() {}, error: (m, ...e) => console.error(m, ...e) };

export interface BenchStack {
  stack: LocalStack;
  counter: AwsCallCounter;
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
  return { stack, counter, call };
}
