/**
 * npm run bench:fairness — the fairness rows of `npm run bench` on their own: a probe tenant's
 * start latency alone and while another tenant keeps 3,000 three-second tasks waiting, for Baton
 * on the local stack (two worker set-ups with the same 80 runs at once) and for BullMQ on one
 * queue. docs/PERFORMANCE.md explains the rows.
 *
 *   BENCH_FLOOD=3000 BENCH_FLOOD_MS=3000 BENCH_PROBES=20   (smaller for a quick try)
 *   BENCH_FAIRNESS_SETUPS=1,3   (only those Baton set-ups, numbered from 1; BullMQ always runs)
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
const chosen = (process.env.BENCH_FAIRNESS_SETUPS ?? "")
  .split(",")
  .filter((n) => n.trim() !== "")
  .map((n) => Number(n) - 1);
const setups =
  chosen.length === 0
    ? FAIRNESS_SETUPS
    : chosen.map((i) => FAIRNESS_SETUPS[i]).filter((s) => s !== undefined);
for (const setup of setups) baton.push(await measureFairnessSetup(setup, workload));
const redis = await startRedis();
const bullmq = await bullmqFairness(redis, workload, 80);
await redis.stop();

console.log(`\nFairness — ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node}\n`);
for (const line of fairnessRows(workload, baton, bullmq)) console.log(line);
