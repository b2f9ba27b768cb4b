/**
 * npm run bench:fairness — the fairness rows of `npm run bench` on their own: a probe tenant's
 * start latency alone and while another tenant keeps 3,000 three-second tasks waiting, for Baton
 * on the local stack and for BullMQ on one queue. docs/PERFORMANCE.md explains the rows.
 *
 *   BENCH_FLOOD=3000 BENCH_FLOOD_MS=3000 BENCH_PROBES=20   (smaller for a quick try)
 */
import { cpus } from "node:os";
import { startBenchStack } from "./bench-stack.ts";
import { batonFairness, bullmqFairness, fairnessRows, fairnessWorkload } from "./fairness.ts";
import { startRedis } from "./peer-bullmq.ts";

const WORKERS = 8;
const workload = fairnessWorkload();
const b = await startBenchStack({ workerConcurrency: WORKERS, timerIntervalMs: 0, sweepIntervalMs: 0 });
const baton = await batonFairness(b, workload);
await b.stack.stop();
const redis = await startRedis();
const bullmq = await bullmqFairness(redis, workload, WORKERS * 10);
await redis.stop();

console.log(
  `\nFairness — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node}; ${WORKERS} worker batches of ≤10 (Baton), concurrency ${WORKERS * 10} (BullMQ)\n`,
);
for (const line of fairnessRows(workload, baton, bullmq)) console.log(line);
