/**
 * npm run bench — Baton, the floor (hand-written SQS FIFO + DynamoDB) and the peer (BullMQ on
 * Redis), measured in one run on one machine, printed as one table; then AWS usage and price
 * per million tasks by kind of task, and the scale rows. docs/PERFORMANCE.md explains each row.
 *
 * The workload is fixed (the counts below); environment variables only shrink it for a quick try:
 *   BENCH_TASKS=2000 BENCH_RATE=20 BENCH_SECONDS=15 BENCH_LINE=10000 BENCH_TENANTS=100
 *   BENCH_FLOOD=3000 BENCH_FLOOD_MS=3000 BENCH_PROBES=20   (the fairness rows, bench/fairness.ts)
 *
 * `npm run bench -- --cost` measures only the cost rows (usage per kind of task, the floor, the
 * ceilings and hottest keys, the heartbeat on a large run); `--json` then prints them as one JSON
 * document on stdout and nothing else (progress goes to stderr; `npm run -s`, or npm prints its
 * own banner on stdout first). BENCH_KIND_TASKS=50 sets the tasks per kind.
 */
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { AwsCallCounter } from "../shared/aws/call-counter.ts";
import {
  callbackRoundTrips,
  chainHops,
  heartbeatWrites,
  KIND_LABELS,
  lineDrain,
  type Measured,
  manyTenants,
  serializedQueue,
  steadyLatency,
  throughput,
  throughputInProcess,
  usageByKind,
  usagePerTask,
} from "./baton.ts";
import { type BenchStack, flood, formatMs, percentiles, startBenchStack } from "./bench-stack.ts";
import { type CostReport, costReport, costTableLines } from "./cost-report.ts";
import {
  batonFairness,
  bullmqFairness,
  FAIRNESS_SETUPS,
  type FairnessFigures,
  fairnessRows,
  fairnessWorkload,
  measureFairnessSetup,
} from "./fairness.ts";
import { Floor, floorSerialized, floorSteadyLatency, floorThroughput } from "./floor.ts";
import {
  bullmqCallbackRoundTrips,
  bullmqChainHops,
  bullmqSerialized,
  bullmqSteadyLatency,
  bullmqThroughput,
  startRedis,
} from "./peer-bullmq.ts";
import { httpApiPerMillion, PRICES, pricePerMillion, stepFunctionsPerMillion } from "./prices.ts";

const TASKS = Number(process.env.BENCH_TASKS ?? 2_000);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const STEADY = RATE * Number(process.env.BENCH_SECONDS ?? 15);
const LINE = Number(process.env.BENCH_LINE ?? 10_000);
const TENANTS = Number(process.env.BENCH_TENANTS ?? 100);
/** Concurrent worker batches (Baton), pollers (floor); BullMQ's concurrency is WORKERS × 10. */
const WORKERS = 8;
const CLIENTS = 16;
const SERIAL = 50;
const HOPS = 100;
const CALLBACKS = 50;
const KIND_TASKS = Number(process.env.BENCH_KIND_TASKS ?? 50);
const LINE_SAMPLE = 100;
/** Tasks run first and not measured, so no system is measured cold (DynamoDB Local is a JVM). */
const WARM_UP = 300;
const LINE_LIMIT = 8;

const began = Date.now();
const log = (what: string) => console.error(`[${((Date.now() - began) / 1000).toFixed(0)} s] ${what}`);
const COST_ONLY = process.argv.includes("--cost");
const JSON_OUT = process.argv.includes("--json");
if (JSON_OUT && !COST_ONLY) throw new Error("--json prints the cost document: use it with --cost");

const machine = () =>
  `${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}`;
const names = (b: BenchStack) => ({
  tenants: [...b.names.tenants],
  definitions: [...b.names.definitions],
  queues: [...b.names.queues],
});

if (COST_ONLY) {
  // Only the cost rows, in one run on the emulators: each kind of task, then the floor, at the same
  // load (8 clients starting KIND_TASKS tasks).
  const b = await startBenchStack({ workerConcurrency: WORKERS, timerIntervalMs: 0, sweepIntervalMs: 0 });
  log("Baton: warm-up (100 tasks)");
  await throughput(b, 100, CLIENTS, "echo-warm-up");
  log(`Baton: usage by kind of task (${KIND_TASKS} each), write units attributed to partition keys`);
  const kinds = await usageByKind(b, KIND_TASKS);
  log("Baton: heartbeat, progress and feedback writes on a run of about 300 KB");
  const heartbeat = await heartbeatWrites(b);
  await b.stack.stopWorker();
  const floorCounter = new AwsCallCounter();
  const floor = await Floor.start({
    endpoints: b.stack.endpoints,
    prefix: b.stack.prefix,
    pollers: WORKERS,
    counter: floorCounter,
  });
  log(`floor: ${KIND_TASKS} tasks from 8 clients`);
  await floorThroughput(floor, 100, CLIENTS);
  floorCounter.reset();
  const ids: string[] = [];
  await flood(8, KIND_TASKS, async () => ids.push(await floor.startTask()));
  await floor.untilEnded(ids);
  const floorUsage = usagePerTask(floorCounter, KIND_TASKS, 0);
  await floor.stop();
  const report: CostReport = costReport(kinds, floorUsage, heartbeat, names(b), {
    at: new Date().toISOString(),
    tasksPerKind: KIND_TASKS,
    machine: machine(),
  });
  await b.stack.stop();
  if (JSON_OUT) console.log(JSON.stringify(report, null, 2));
  else {
    console.log("| kind | $ / M tasks | DynamoDB WRU | DynamoDB RRU | AWS calls |");
    console.log("|---|---|---|---|---|");
    for (const [kind, row] of Object.entries(report.cost))
      console.log(
        `| ${KIND_LABELS[kind as keyof typeof KIND_LABELS] ?? "the floor"} | ${row.usdPerMillion.toFixed(2)} | ${row.wru.toFixed(2)} | ${row.rru.toFixed(2)} | ${row.calls.toFixed(2)} |`,
      );
    for (const line of costTableLines(report, KIND_LABELS)) console.log(line);
  }
  log("done");
  process.exit(0);
}

// Baton. The local timer loop and the sweeper stand in for AWS services (SQS delays, Scheduler,
// EventBridge) and are off: no workload here needs them, and their polling is not a task's cost.
const b = await startBenchStack({ workerConcurrency: WORKERS, timerIntervalMs: 0, sweepIntervalMs: 0 });
let scans = 0;
const counted = <T extends Measured>(m: T) => {
  scans += m.scans;
  return m;
};
log(`Baton: warm-up (${WARM_UP} tasks), then throughput of ${TASKS} echo tasks`);
await throughput(b, WARM_UP, CLIENTS, "echo-warm-up");
const batonThroughput = await throughput(b, TASKS, CLIENTS, "echo-throughput");
log(`Baton: throughput of ${TASKS} echo tasks started in-process (no HTTP)`);
const batonInProcess = await throughputInProcess(b, TASKS, CLIENTS, "echo-in-process");
log(`Baton: ${STEADY} starts at ${RATE}/s`);
const batonSteady = counted(await steadyLatency(b, RATE, STEADY));
log(`Baton: ${SERIAL} runs through one named queue`);
const batonSerial = await serializedQueue(b, SERIAL);
log(`Baton: ${HOPS} chain hops`);
const batonHops = await chainHops(b, RATE, HOPS);
log(`Baton: ${CALLBACKS} callbacks`);
const batonCallbacks = await callbackRoundTrips(b, CALLBACKS);
log("Baton: usage by kind of task");
const kinds = await usageByKind(b, KIND_TASKS);
for (const m of Object.values(kinds)) counted(m);
log("Baton: heartbeat, progress and feedback writes on a run of about 300 KB");
const heartbeat = await heartbeatWrites(b);
const benchNames = names(b);
log(`Baton: ${TENANTS} tenants`);
const tenants = counted(await manyTenants(b, TENANTS, RATE, STEADY));
log(`Baton: a line of ${LINE_SAMPLE}, then of ${LINE}`);
const lineBase = counted(await lineDrain(b, LINE_SAMPLE, LINE_SAMPLE, LINE_LIMIT));
const lineLong = counted(await lineDrain(b, LINE, LINE_SAMPLE, LINE_LIMIT));
const fairness = fairnessWorkload();
log(`Baton: fairness, one tenant keeping ${fairness.flood} tasks waiting`);
// The main stack is the first set-up (8 invocations of batches of 10); the second gets its own.
const [mainSetup, ...otherSetups] = FAIRNESS_SETUPS;
const batonFair: [string, FairnessFigures][] = [[mainSetup?.label ?? "", await batonFairness(b, fairness)]];
await b.stack.stopWorker();

// The floor, on the same emulators.
const floorCounter = new AwsCallCounter();
const floor = await Floor.start({
  endpoints: b.stack.endpoints,
  prefix: b.stack.prefix,
  pollers: WORKERS,
  counter: floorCounter,
});
log(`floor: throughput, ${STEADY} starts at ${RATE}/s, one group, callbacks`);
await floorThroughput(floor, WARM_UP, CLIENTS);
const floorRate = await floorThroughput(floor, TASKS, CLIENTS);
floorCounter.reset();
const floorSteady = await floorSteadyLatency(floor, RATE, STEADY);
const floorUsage = usagePerTask(floorCounter, STEADY, 0);
const floorSerial = await floorSerialized(floor, SERIAL);
const floorCallbacks: number[] = [];
for (let i = 0; i < CALLBACKS; i += 1) floorCallbacks.push(await floor.completeAwaiting());
await floor.stop();
await b.stack.stop();

for (const setup of otherSetups) {
  log(`Baton: fairness, ${setup.label}`);
  batonFair.push(await measureFairnessSetup(setup, fairness));
}

// The peer.
const redis = await startRedis();
if (redis.note) log(redis.note);
log(`BullMQ on Redis ${redis.version}`);
await bullmqThroughput(redis, WARM_UP, CLIENTS, WORKERS * 10, "warm-up");
const peerRate = await bullmqThroughput(redis, TASKS, CLIENTS, WORKERS * 10);
const peerSteady = await bullmqSteadyLatency(redis, RATE, STEADY, WORKERS * 10);
const peerSerial = await bullmqSerialized(redis, SERIAL);
const peerHops = await bullmqChainHops(redis, RATE, HOPS, WORKERS * 10);
const peerCallbacks = await bullmqCallbackRoundTrips(redis, CALLBACKS);
log(`BullMQ: fairness, ${fairness.flood} jobs waiting on one queue`);
const peerFair = await bullmqFairness(redis, fairness, WORKERS * 10);
await redis.stop();

// The table.
const ms = (values: number[], ps: number[]) => percentiles(values, ps).map(formatMs).join(" / ");
const ratio = (x: number, y: number) => (Number.isFinite(x / y) ? `${(x / y).toFixed(2)}×` : "n/a");
const latencyRatio = (x: number[], y: number[], ps: number[]) =>
  percentiles(x, ps)
    .map((v, i) => ratio(v, percentiles(y, ps)[i] ?? Number.NaN))
    .join(" / ");
const bullmqVersion = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  .devDependencies.bullmq;
console.log(`\nBaton vs the floor vs BullMQ ${bullmqVersion} (Redis ${redis.version}) — ${machine()}`);
console.log(
  `${WORKERS} worker batches of ≤10 (Baton), ${WORKERS} pollers of ≤10 (floor), concurrency ${WORKERS * 10} (BullMQ); ${CLIENTS} clients for throughput; steady rate ${RATE} starts/s for ${STEADY / RATE} s.`,
);
console.log(
  "Rates: higher is better (ratio ≥ 1 favours Baton). Latencies: lower is better (ratio ≤ 1 favours Baton).\n",
);
console.log("| workload | Baton | floor | BullMQ | Baton/floor | Baton/BullMQ |");
console.log("|---|---|---|---|---|---|");
const rateRow = (label: string, x: number, f: number, p: number) =>
  console.log(
    `| ${label} | ${x.toFixed(1)} | ${f.toFixed(1)} | ${p.toFixed(1)} | ${ratio(x, f)} | ${ratio(x, p)} |`,
  );
const latencyRow = (
  label: string,
  x: number[],
  f: number[] | undefined,
  p: number[] | undefined,
  ps: number[],
) =>
  console.log(
    `| ${label} | ${ms(x, ps)} | ${f ? ms(f, ps) : "n/a"} | ${p ? ms(p, ps) : "n/a"} | ${f ? latencyRatio(x, f, ps) : "n/a"} | ${p ? latencyRatio(x, p, ps) : "n/a"} |`,
  );
rateRow(`throughput, ${TASKS} echo tasks (tasks/s, end to end)`, batonThroughput, floorRate, peerRate);
rateRow(
  `throughput, ${TASKS} echo tasks started in-process, no HTTP (tasks/s)`,
  batonInProcess,
  floorRate,
  peerRate,
);
latencyRow(
  `enqueue → start at ${RATE}/s (ms, p50 / p95 / p99)`,
  batonSteady.latencies,
  floorSteady,
  peerSteady,
  [50, 95, 99],
);
rateRow(
  `one named queue, serialized (runs/s, ${SERIAL} runs)`,
  batonSerial.rate,
  floorSerial.rate,
  peerSerial.rate,
);
latencyRow(`chain hop: source end → child start (ms, p50 / p99)`, batonHops, undefined, peerHops, [50, 99]);
latencyRow(`callback round trip (ms, p50 / p99)`, batonCallbacks, floorCallbacks, peerCallbacks, [50, 99]);
console.log(`| DynamoDB Scan calls in all of Baton's workloads above and below | ${scans} | | | | |`);
console.log(
  `| overlapping runs in the serialized queue (must be 0) | ${batonSerial.overlaps} | ${floorSerial.overlaps} | ${peerSerial.overlaps} | | |`,
);

// Cost.
console.log(
  `\nAWS usage per task, measured (${KIND_TASKS} tasks of each kind), and list price per million tasks before handler compute (${PRICES.region}, prices of ${PRICES.checked}, bench/prices.ts):\n`,
);
console.log(
  "| kind | AWS calls | SQS requests | DynamoDB WRU | DynamoDB RRU | Lambda invocations | Scan | $ / M tasks | + HTTP API $ / M | Step Functions Standard / Express $ / M |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
const usageRow = (label: string, m: Measured, states: number) => {
  const u = m.usage;
  const sfn = stepFunctionsPerMillion(states);
  console.log(
    `| ${label} | ${m.callsPerTask.toFixed(2)} | ${u.sqsRequests.toFixed(2)} | ${u.writeUnits.toFixed(2)} | ${u.readUnits.toFixed(2)} | ${u.lambdaInvocations.toFixed(2)} | ${m.scans} | ${pricePerMillion(u).toFixed(2)} | ${httpApiPerMillion(u).toFixed(2)} | ${sfn.standard.toFixed(0)} / ${sfn.express.toFixed(2)} |`,
  );
};
for (const [kind, m] of Object.entries(kinds))
  usageRow(KIND_LABELS[kind as keyof typeof kinds], m, kind === "callback" ? 3 : 2);
usageRow("the floor (same lifecycle by hand)", floorUsage, 2);
const report = costReport(kinds, floorUsage, heartbeat, benchNames, {
  at: new Date().toISOString(),
  tasksPerKind: KIND_TASKS,
  machine: machine(),
});
for (const line of costTableLines(report, KIND_LABELS)) console.log(line);
const perTask = (entries: Record<string, number>, divide = 1) =>
  Object.entries(entries)
    .map(([what, n]) => `${what.replaceAll(b.stack.prefix, "")} ${(n / divide).toFixed(2)}`)
    .join(", ");
console.log(`\nplain task, AWS calls per task by operation: ${perTask(kinds.plain.calls, KIND_TASKS)}`);
console.log(
  `plain task, DynamoDB request units per task by operation and table/index: ${perTask(kinds.plain.unitsBy)}`,
);

// Scale.
console.log("\nScale: the same figures with a long line and with many tenants:\n");
console.log("| | AWS calls / task | DynamoDB WRU / task | latency p50 / p99 ms | Scan |");
console.log("|---|---|---|---|---|");
const scaleRow = (label: string, m: Measured & { latencies: number[] }) =>
  console.log(
    `| ${label} | ${m.callsPerTask.toFixed(2)} | ${m.usage.writeUnits.toFixed(2)} | ${ms(m.latencies, [50, 99])} | ${m.scans} |`,
  );
scaleRow(`limited (max ${LINE_LIMIT}), ${LINE_SAMPLE} waiting — slot hand-off`, lineBase);
scaleRow(`limited (max ${LINE_LIMIT}), ${LINE.toLocaleString("en")} waiting — slot hand-off`, lineLong);
scaleRow(`1 tenant at ${RATE}/s — enqueue → start`, batonSteady);
scaleRow(`${TENANTS} tenants at ${RATE}/s in turn — enqueue → start`, tenants);

// Fairness.
console.log("\nFairness: one tenant's task while another tenant keeps thousands waiting:\n");
for (const line of fairnessRows(fairness, batonFair, peerFair)) console.log(line);
log("done");
