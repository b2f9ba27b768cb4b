/**
 * npm run bench — throughput of `echo` tasks on the local stack, and AWS calls per task.
 *
 *   BENCH_TASKS=1000      how many tasks
 *   BENCH_CLIENTS=16      concurrent HTTP clients starting them
 *   BENCH_WORKERS=8       concurrent worker batches (like concurrent Lambda invocations)
 *
 * Throughput is end to end: from the first start request to the last run recorded `succeeded`.
 */

import { cpus } from "node:os";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/emulators.ts";
import { startLocalStack } from "../local/stack.ts";
import { ensureTenantKey } from "../shared/app/identity.ts";
import { AwsCallCounter } from "../shared/aws/call-counter.ts";
import type { Log } from "../shared/core/ports.ts";
import { newApiKey } from "../shared/core/tenant.ts";
import { registry } from "../tasks/index.ts";

const TASKS = Number(process.env.BENCH_TASKS ?? 1_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const quiet: Log = { debug() {}, info() {}, warn() {}, error: (m, ...e) => console.error(m, ...e) };

const counter = new AwsCallCounter();
const stack = await startLocalStack({
  registry,
  port: 0,
  workerConcurrency: WORKERS,
  callCounter: counter,
  log: quiet,
  leaseSeconds: 30,
});
const key = newApiKey().key;
await ensureTenantKey(stack.services, { tenant: "bench", role: "admin", key });
const call = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (response.status >= 300)
    throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
};
await call("PUT", "/v1/definitions/echo", { handler: "echo" });

// A client the counter does not see, to watch progress without adding to the figures.
const observer = new DynamoDBClient({
  region: LOCAL_REGION,
  endpoint: stack.endpoints.dynamodb,
  credentials: LOCAL_CREDENTIALS,
});
async function succeededCount(): Promise<number> {
  let count = 0;
  let start: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
  do {
    const page = await observer.send(
      new QueryCommand({
        TableName: `${stack.prefix}runs`,
        IndexName: "byStatus",
        KeyConditionExpression: "tenantStatus = :s",
        ExpressionAttributeValues: { ":s": { S: "bench#succeeded" } },
        Select: "COUNT",
        ExclusiveStartKey: start,
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

counter.reset();
const startLatencies: number[] = [];
const t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: CLIENTS }, async () => {
    while (next < TASKS) {
      const seq = next++;
      const t = performance.now();
      await call("POST", "/v1/tasks", { definition: "echo", params: { seq } });
      startLatencies.push(performance.now() - t);
    }
  }),
);
const tStarted = performance.now();
while ((await succeededCount()) < TASKS) await new Promise((r) => setTimeout(r, 50));
const tDone = performance.now();
const calls = counter.snapshot();

// Per-run latency from the runs themselves (read outside the counter).
const runs = [];
let cursor: string | undefined;
const reader = { tenant: "bench", role: "admin" as const, keyId: "bench" };
do {
  const page = await stack.services.runs.list({
    tenant: reader.tenant,
    limit: 100,
    ...(cursor ? { cursor } : {}),
  });
  runs.push(...page.items);
  cursor = page.cursor;
} while (cursor !== undefined);
const endToEnd = runs.map((r) => Date.parse(r.endedAt ?? "") - Date.parse(r.createdAt));

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
};
const seconds = (tDone - t0) / 1000;

console.log(`\nBaton local stack — ${TASKS} echo tasks, ${CLIENTS} HTTP clients, ${WORKERS} worker batches`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node}\n`);
console.log("| figure | value |");
console.log("|---|---|");
console.log(
  `| end-to-end throughput (first start → last success) | ${(TASKS / seconds).toFixed(0)} tasks/s |`,
);
console.log(
  `| start throughput (POST /v1/tasks) | ${(TASKS / ((tStarted - t0) / 1000)).toFixed(0)} starts/s |`,
);
console.log(
  `| POST /v1/tasks latency p50 / p95 / p99 | ${[50, 95, 99].map((p) => pct(startLatencies, p).toFixed(1)).join(" / ")} ms |`,
);
console.log(
  `| created → succeeded p50 / p95 / p99 | ${[50, 95, 99].map((p) => pct(endToEnd, p).toFixed(0)).join(" / ")} ms |`,
);
console.log(`| wall time | ${seconds.toFixed(2)} s |`);
console.log("\nAWS API calls per echo task (api + worker + event-source polling):\n");
console.log("| operation | calls | per task |");
console.log("|---|---|---|");
let total = 0;
for (const [operation, count] of Object.entries(calls)) {
  total += count;
  console.log(`| ${operation} | ${count} | ${(count / TASKS).toFixed(2)} |`);
}
console.log(`| **total** | ${total} | ${(total / TASKS).toFixed(2)} |`);

observer.destroy();
await stack.stop();
