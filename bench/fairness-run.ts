/**
 * npm run bench:fairness — the fairness rows of `npm run bench` on their own: a probe tenant's
 * start latency alone and while another tenant keeps 3,000 three-second tasks waiting, for Baton
 * on the local stack (two worker set-ups with the same 80 runs at once) and for BullMQ on one
 * queue. docs/PERFORMANCE.md explains the rows.
 *
 *   BENCH_FLOOD=3000 BENCH_FLOOD_MS=3000 BENCH_PROBES=20   (smaller for a quick try)
 */
import { cpus } from "node:os";
import {
  bullmqFairness,
  FAIRNESS_SETUPS,
  type FairnessFigures,
  fairnessRows,
  fairnessWorkload,
  measureFairnessSetup,
} from "./fairness.ts";
import { startRedis } from "./peer-bullmq.ts";

const workload = fairnessWorkload();
const baton: [string, FairnessFigures][] = [];
for (const setup of FAIRNESS_SETUPS) baton.push(await measureFairnessSetup(setup, workload));
const redis = await startRedis();
const bullmq = await bullmqFairness(redis, workload, 80);
await redis.stop();

console.log(`\nFairness — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node}\n`);
for (const line of fairnessRows(workload, baton, bullmq)) console.log(line);
