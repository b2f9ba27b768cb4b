/**
 * The peer: BullMQ on a real Redis server, the same workloads where they map. The bench starts
 * redis-server on a free port with no persistence in a temporary folder (installing Debian's
 * package first if it is missing) and stops it at the end.
 *
 * Concurrency: one worker with concurrency pollers × 10, as many jobs at once as Baton's worker
 * can hold (its batches × 10 messages). Times are the jobs' own: timestamp (added), processedOn
 * (started), finishedOn (ended), on this machine's clock.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Job, Queue, Worker } from "bullmq";
import getPort from "get-port";
import { Redis } from "ioredis";
import { atRate, flood, waitUntil } from "./bench-stack.ts";

const REDIS_SERVER = "/usr/bin/redis-server";

export interface RedisServer {
  connection: { host: string; port: number; maxRetriesPerRequest: null };
  version: string;
  /** What the bench had to do to have a server, e.g. that it installed one. */
  note: string;
  stop(): Promise<void>;
}

function installRedis(): string {
  const install = () => execFileSync("apt-get", ["install", "-y", "redis-server"], { stdio: "ignore" });
  try {
    install();
  } catch {
    execFileSync("apt-get", ["update"], { stdio: "ignore" });
    install();
  }
  return "redis-server was missing: the bench installed it (apt-get install -y redis-server)";
}

export async function startRedis(): Promise<RedisServer> {
  const note = existsSync(REDIS_SERVER) ? "" : installRedis();
  const dir = mkdtempSync(join(tmpdir(), "baton-bench-redis-"));
  const port = await getPort();
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const connection = { host: "127.0.0.1", port, maxRetriesPerRequest: null } as const;
  const probe = new Redis({ ...connection, lazyConnect: true, retryStrategy: () => 100 });
  // Refused connections while the server starts are expected; the loop below retries them.
  probe.on("error", () => {});
  await waitUntil("redis-server", async () => {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    return (await probe.ping().catch(() => "")) === "PONG";
  });
  const info = await probe.info("server");
  probe.disconnect();
  return {
    connection,
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown",
    note,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const echo = async (job: Job) => job.data;

/** Runs `work` with a queue of `name` and a worker of `concurrency`, closing both after. */
async function withQueue<T>(
  redis: RedisServer,
  name: string,
  concurrency: number,
  work: (queue: Queue) => Promise<T>,
  processor: (job: Job) => Promise<unknown> = echo,
): Promise<T> {
  const queue = new Queue(name, { connection: redis.connection });
  const worker = new Worker(name, processor, { connection: redis.connection, concurrency });
  try {
    return await work(queue);
  } finally {
    await worker.close();
    await queue.close();
  }
}

async function untilFinished(queue: Queue, count: number): Promise<Job[]> {
  await waitUntil(`${count} BullMQ jobs`, async () => (await queue.getCompletedCount()) >= count);
  return queue.getJobs(["completed"], 0, count - 1);
}

export async function bullmqThroughput(
  redis: RedisServer,
  tasks: number,
  clients: number,
  concurrency: number,
  name = "throughput",
) {
  return withQueue(redis, name, concurrency, async (queue) => {
    const t0 = Date.now();
    await flood(clients, tasks, () => queue.add("echo", { text: "hello" }, { removeOnComplete: false }));
    const jobs = await untilFinished(queue, tasks);
    return tasks / ((Math.max(...jobs.map((j) => j.finishedOn ?? Number.NaN)) - t0) / 1000);
  });
}

/** Added → processing started, ms. */
export async function bullmqSteadyLatency(
  redis: RedisServer,
  perSecond: number,
  count: number,
  concurrency: number,
) {
  return withQueue(redis, "steady", concurrency, async (queue) => {
    await atRate(perSecond, count, () => queue.add("echo", { text: "hello" }));
    const jobs = await untilFinished(queue, count);
    return jobs.map((j) => (j.processedOn ?? Number.NaN) - j.timestamp);
  });
}

/**
 * Jobs/s through a worker of concurrency 1, and how often a job started while another ran. The
 * overlap is counted in the processor itself: BullMQ stamps the next job's processedOn when it
 * fetches it with the previous job's completion, before that one's finishedOn, so the stamps
 * would show overlaps that no handler had.
 */
export async function bullmqSerialized(redis: RedisServer, count: number) {
  let running = 0;
  let overlaps = 0;
  const exclusiveEcho = async (job: Job) => {
    running += 1;
    if (running > 1) overlaps += 1;
    await Promise.resolve();
    running -= 1;
    return job.data;
  };
  return withQueue(
    redis,
    "line",
    1,
    async (queue) => {
      await flood(1, count, () => queue.add("echo", { text: "hello" }));
      const jobs = await untilFinished(queue, count);
      const span =
        Math.max(...jobs.map((j) => j.finishedOn ?? Number.NaN)) -
        Math.min(...jobs.map((j) => j.processedOn ?? Number.NaN));
      return { rate: count / (span / 1000), overlaps };
    },
    exclusiveEcho,
  );
}

/** A source job's end → the start of the job its worker adds on completion, ms. */
export async function bullmqChainHops(
  redis: RedisServer,
  perSecond: number,
  count: number,
  concurrency: number,
) {
  return withQueue(redis, "hop-child", concurrency, async (children) => {
    const sources = new Queue("hop-source", { connection: redis.connection });
    const worker = new Worker("hop-source", echo, { connection: redis.connection, concurrency });
    worker.on("completed", (job) => {
      void children.add("echo", { from: job.id, sourceEnded: job.finishedOn });
    });
    try {
      await atRate(perSecond, count, () => sources.add("echo", { text: "hello" }));
      const jobs = await untilFinished(children, count);
      return jobs.map((j) => (j.processedOn ?? Number.NaN) - Number(j.data.sourceEnded));
    } finally {
      await worker.close();
      await sources.close();
    }
  });
}

/**
 * The nearest to a callback: a job taken by a manual worker (active and locked, like a run
 * awaiting its callback) and completed from outside with moveToCompleted, ms per completion.
 */
export async function bullmqCallbackRoundTrips(redis: RedisServer, count: number) {
  const queue = new Queue("callback", { connection: redis.connection });
  const worker = new Worker("callback", null, { connection: redis.connection });
  try {
    await flood(1, count, () => queue.add("external", { text: "hello" }));
    const taken: { job: Job; token: string }[] = [];
    for (let i = 0; i < count; i += 1) {
      const token = `outside-${i}`;
      const job = await worker.getNextJob(token);
      if (job === undefined) throw new Error("BullMQ handed out no job");
      taken.push({ job, token });
    }
    const trips: number[] = [];
    for (const { job, token } of taken) {
      const t0 = performance.now();
      await job.moveToCompleted({ ok: true }, token, false);
      trips.push(performance.now() - t0);
    }
    if ((await queue.getCompletedCount()) !== count) throw new Error("not every BullMQ job completed");
    return trips;
  } finally {
    await worker.close();
    await queue.close();
  }
}
