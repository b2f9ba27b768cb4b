/**
 * Fairness: how long one tenant's task waits to start while another tenant keeps thousands of
 * tasks waiting. A probe tenant starts an `echo` at a steady pace, first alone (its unloaded
 * start latency), then while a flood tenant has FLOOD `sleep` tasks of FLOOD_MS each waiting.
 * The same for BullMQ on one queue (its jobs have no tenant; a queue is first in, first out).
 */
import type { Job } from "bullmq";
import { Queue, Worker } from "bullmq";
import { ensureTenantKey, setTenantLimits } from "../shared/app/identity.ts";
import { startTask } from "../shared/app/tasks.ts";
import type { RunSummary } from "../shared/core/run.ts";
import { newApiKey } from "../shared/core/tenant.ts";
import {
  atRate,
  type BenchStack,
  flood,
  formatMs,
  percentiles,
  sleep,
  startBenchStack,
  waitUntil,
} from "./bench-stack.ts";
import type { RedisServer } from "./peer-bullmq.ts";

export interface FairnessWorkload {
  /** Tasks the flooding tenant keeps waiting. */
  flood: number;
  /** How long each of them runs, ms. */
  floodMs: number;
  /** Probe starts in each phase, one every `probeEveryMs`. */
  probes: number;
  probeEveryMs: number;
}

export interface FairnessFigures {
  /** createdAt → startedAt of the probe tenant's tasks, ms: alone, then under the flood. */
  unloaded: number[];
  loaded: number[];
  /** How many of the flood's tasks were still waiting when the last probe started. */
  floodWaitingAtEnd: number;
}

const at = (iso: string | undefined) => Date.parse(iso ?? "");

/** `floodCap`: the operator's tenant maxConcurrency on the flooding tenant, if any. */
export async function batonFairness(
  b: BenchStack,
  w: FairnessWorkload,
  floodCap?: number,
): Promise<FairnessFigures> {
  const probe = newApiKey().key;
  const flooding = newApiKey().key;
  await ensureTenantKey(b.stack.services, { tenant: "fair-probe", role: "admin", key: probe });
  await ensureTenantKey(b.stack.services, { tenant: "fair-flood", role: "admin", key: flooding });
  await b.call("PUT", "/v1/definitions/probe", { handler: "echo" }, probe);
  await b.call(
    "PUT",
    "/v1/definitions/flood",
    { handler: "sleep", params: { ms: w.floodMs, steps: 1 }, timeoutSeconds: 60 },
    flooding,
  );
  const flooder = { kind: "tenant", tenant: "fair-flood", role: "admin", keyId: "bench" } as const;
  if (floodCap !== undefined)
    await setTenantLimits(b.stack.services, "fair-flood", { maxConcurrency: floodCap });

  const probeRuns = async (count: number) => {
    const ids = new Set<string>();
    await atRate(1000 / w.probeEveryMs, count, async () => {
      const started = (await b.call("POST", "/v1/tasks", { definition: "probe", params: {} }, probe)) as {
        taskId: string;
      };
      ids.add(started.taskId);
    });
    let runs: RunSummary[] = [];
    await waitUntil("the probe tasks", async () => {
      runs = (await b.allRuns("probe", "fair-probe", "succeeded")).filter((r) => ids.has(r.id));
      return runs.length === ids.size;
    });
    return runs.map((r) => at(r.startedAt) - at(r.createdAt));
  };

  // Not measured: the first starts of a definition warm its caches.
  await probeRuns(5);
  const unloaded = await probeRuns(w.probes);
  // Starts made in-process: the flood should be waiting, not held up in the HTTP front door.
  await flood(16, w.flood, () => startTask(b.stack.services, flooder, { definition: "flood" }));
  const loaded = await probeRuns(w.probes);
  const floodDone = await b.succeeded("flood", "fair-flood");
  return { unloaded, loaded, floodWaitingAtEnd: w.flood - floodDone };
}

export async function bullmqFairness(
  redis: RedisServer,
  w: FairnessWorkload,
  concurrency: number,
): Promise<FairnessFigures> {
  const queue = new Queue("fairness", { connection: redis.connection });
  const worker = new Worker(
    "fairness",
    async (job: Job) => {
      if (job.name === "flood") await sleep(w.floodMs);
      return job.data;
    },
    { connection: redis.connection, concurrency },
  );
  try {
    const probeJobs = async (count: number) => {
      const jobs: Job[] = [];
      await atRate(1000 / w.probeEveryMs, count, async () => {
        jobs.push(await queue.add("probe", { tenant: "fair-probe" }));
      });
      await waitUntil("the BullMQ probe jobs", async () => {
        const states = await Promise.all(jobs.map((j) => j.getState()));
        return states.every((s) => s === "completed");
      });
      const done = await Promise.all(jobs.map((j) => queue.getJob(j.id ?? "")));
      return done.map((j) => (j?.processedOn ?? Number.NaN) - (j?.timestamp ?? Number.NaN));
    };
    await probeJobs(5);
    const unloaded = await probeJobs(w.probes);
    await queue.addBulk(Array.from({ length: w.flood }, () => ({ name: "flood", data: {} })));
    const loaded = await probeJobs(w.probes);
    const floodWaitingAtEnd = await queue.getWaitingCount();
    return { unloaded, loaded, floodWaitingAtEnd };
  } finally {
    await worker.close(true);
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

export function fairnessWorkload(): FairnessWorkload {
  return {
    flood: Number(process.env.BENCH_FLOOD ?? 3_000),
    floodMs: Number(process.env.BENCH_FLOOD_MS ?? 3_000),
    probes: Number(process.env.BENCH_PROBES ?? 20),
    probeEveryMs: 500,
  };
}

/**
 * The worker set-ups of Baton the rows compare: the same 80 runs at once, as 8 invocations of
 * batches of 10 (the default batch size) or as 80 invocations of one run each; and the latter with
 * the operator's cap on the flooding tenant, which then leaves invocations free for others.
 */
export const FAIRNESS_SETUPS: readonly {
  label: string;
  stack: { workerConcurrency: number; workerBatchSize?: number };
  floodCap?: number;
}[] = [
  { label: "Baton, batches of 10 (8 invocations)", stack: { workerConcurrency: 8 } },
  { label: "Baton, batches of 1 (80 invocations)", stack: { workerConcurrency: 80, workerBatchSize: 1 } },
  {
    label: "Baton, batches of 1, flooding tenant capped at maxConcurrency 60",
    stack: { workerConcurrency: 80, workerBatchSize: 1 },
    floodCap: 60,
  },
];

/** One set-up on a stack of its own (started and stopped here), as a labelled row. */
export async function measureFairnessSetup(
  setup: (typeof FAIRNESS_SETUPS)[number],
  w: FairnessWorkload,
): Promise<[string, FairnessFigures]> {
  const b = await startBenchStack({ ...setup.stack, timerIntervalMs: 0, sweepIntervalMs: 0 });
  try {
    return [setup.label, await batonFairness(b, w, setup.floodCap)];
  } finally {
    await b.stack.stop();
  }
}

/** The table: the probe's start latency p50 / p95 alone and under the flood, and the ratio at p95. */
export function fairnessRows(
  w: FairnessWorkload,
  baton: [label: string, figures: FairnessFigures][],
  bullmq: FairnessFigures,
): string[] {
  const p = (values: number[]) => percentiles(values, [50, 95]);
  const cell = (values: number[]) =>
    p(values)
      .map((v) => `${formatMs(v)} ms`)
      .join(" / ");
  const ratio = (f: FairnessFigures) => {
    const [, loaded] = p(f.loaded);
    const [, alone] = p(f.unloaded);
    return `${((loaded ?? Number.NaN) / (alone ?? Number.NaN)).toFixed(1)}×`;
  };
  const row = (name: string, f: FairnessFigures) =>
    `| ${name} | ${cell(f.unloaded)} | ${cell(f.loaded)} | ${ratio(f)} | ${f.floodWaitingAtEnd} |`;
  return [
    `| probe start latency, another tenant flooding ${w.flood} × ${w.floodMs / 1000} s | alone p50 / p95 | under the flood p50 / p95 | p95 ratio (target ≤ 2×) | flood still waiting |`,
    "|---|---|---|---|---|",
    ...baton.map(([label, figures]) => row(label, figures)),
    row("BullMQ (one queue, concurrency 80)", bullmq),
  ];
}
