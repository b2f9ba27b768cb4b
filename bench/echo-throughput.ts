/**
 * npm run bench — throughput of `echo` tasks on the local stack, and AWS calls per task.
 *
 *   BENCH_TASKS=1000      how many tasks
 *   BENCH_CLIENTS=16      concurrent HTTP clients starting them
 *   BENCH_WORKERS=8       concurrent worker batches (like concurrent Lambda invocations)
 *   BENCH_LIMIT=8         maxConcurrency of the limited definition
 *
 * Two rows: an unlimited definition, and one with maxConcurrency (admission counters,
 * transactions, promotion of waiting runs).
 *
 * Throughput is end to end: from the first start request to the last run recorded `succeeded`.
 */

import { cpus } from "node:os";
import { DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../local/emulators.ts";
import { percentile, startBenchStack } from "./bench-stack.ts";

const TASKS = Number(process.env.BENCH_TASKS ?? 1_000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 8);
const LIMITED_CONCURRENCY = Number(process.env.BENCH_LIMIT ?? 8);
const { stack, counter, call, allRuns } = await startBenchStack({
  workerConcurrency: WORKERS,
  leaseSeconds: 30,
});
await call("PUT", "/v1/definitions/echo", { handler: "echo" });

// A client the counter does not see, to watch progress without adding to the figures.
const observer = new DynamoDBClient({
  region: LOCAL_REGION,
  endpoint: stack.endpoints.dynamodb,
  credentials: LOCAL_CREDENTIALS,
});
async function succeededCount(definition: string): Promise<number> {
  let count = 0;
  let start: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
  do {
    const page = await observer.send(
      new QueryCommand({
        TableName: `${stack.prefix}runs`,
        IndexName: "byStatus",
        KeyConditionExpression: "tenantStatus = :s",
        FilterExpression: "#definition = :d",
        ExpressionAttributeNames: { "#definition": "definition" },
        ExpressionAttributeValues: { ":s": { S: "bench#succeeded" }, ":d": { S: definition } },
        Select: "COUNT",
        ExclusiveStartKey: start,
      }),
    );
    count += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return count;
}

interface Figures {
  label: string;
  seconds: number;
  startSeconds: number;
  startLatencies: number[];
  endToEnd: number[];
  calls: Record<string, number>;
}

async function measure(label: string, definition: string, body: Record<string, unknown>): Promise<Figures> {
  await call("PUT", `/v1/definitions/${definition}`, body);
  counter.reset();
  const startLatencies: number[] = [];
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < TASKS) {
        const seq = next++;
        const t = performance.now();
        await call("POST", "/v1/tasks", { definition, params: { seq } });
        startLatencies.push(performance.now() - t);
      }
    }),
  );
  const tStarted = performance.now();
  while ((await succeededCount(definition)) < TASKS) await new Promise((r) => setTimeout(r, 50));
  const tDone = performance.now();
  const calls = counter.snapshot();

  // Per-run latency from the runs themselves (read outside the counter).
  const endToEnd = (await allRuns(definition)).map(
    (r) => Date.parse(r.endedAt ?? "") - Date.parse(r.createdAt),
  );
  return {
    label,
    seconds: (tDone - t0) / 1000,
    startSeconds: (tStarted - t0) / 1000,
    startLatencies,
    endToEnd,
    calls,
  };
}

const pct = percentile;
const three = (values: number[], digits: number) =>
  [50, 95, 99].map((p) => pct(values, p).toFixed(digits)).join(" / ");

const results = [
  await measure("unlimited", "echo", { handler: "echo" }),
  await measure(`limited (maxConcurrency ${LIMITED_CONCURRENCY})`, "echo-limited", {
    handler: "echo",
    maxConcurrency: LIMITED_CONCURRENCY,
  }),
];

console.log(
  `\nBaton local stack — ${TASKS} echo tasks per row, ${CLIENTS} HTTP clients, ${WORKERS} worker batches`,
);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node}\n`);
console.log(
  "| definition | tasks/s end to end | starts/s (one definition) | POST /v1/tasks p50 / p95 / p99 ms | created → succeeded p50 / p95 / p99 ms |",
);
console.log("|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.label} | ${(TASKS / r.seconds).toFixed(0)} | ${(TASKS / r.startSeconds).toFixed(0)} | ${three(r.startLatencies, 1)} | ${three(r.endToEnd, 0)} |`,
  );
}
console.log("\nAWS API calls per echo task (api + worker + event-source polling):\n");
const operations = [...new Set(results.flatMap((r) => Object.keys(r.calls)))].sort();
console.log(`| operation | ${results.map((r) => r.label).join(" | ")} |`);
console.log(`|---|${results.map(() => "---").join("|")}|`);
for (const operation of operations) {
  console.log(
    `| ${operation} | ${results.map((r) => ((r.calls[operation] ?? 0) / TASKS).toFixed(2)).join(" | ")} |`,
  );
}
const totals = results.map((r) => Object.values(r.calls).reduce((a, b) => a + b, 0) / TASKS);
console.log(`| **total** | ${totals.map((t) => t.toFixed(2)).join(" | ")} |`);

observer.destroy();
await stack.stop();
