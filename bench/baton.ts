/**
 * Baton's workloads for `npm run bench`, on the local stack: throughput, steady-rate latency,
 * a named queue's serialized rate, chain hops, callback round trips, AWS usage per kind of task,
 * and the same figures with 10,000 runs waiting in one line and with 100 tenants active.
 *
 * Every time is one of the runs' own timestamps (createdAt, startedAt, endedAt), all on this
 * machine's clock; runs are read through a client the call counter does not see.
 */
import { readFile } from "node:fs/promises";
import { BatchWriteCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { callbackTokenFile } from "../examples/await-callback.ts";
import { ensureTenantKey } from "../shared/app/identity.ts";
import { cancelTask, startTask } from "../shared/app/tasks.ts";
import type { AwsCallCounter } from "../shared/aws/call-counter.ts";
import type { KeyUnits } from "../shared/aws/write-attribution.ts";
import { type Run, type RunSummary, refOf } from "../shared/core/run.ts";
import { newApiKey } from "../shared/core/tenant.ts";
import { atRate, type BenchStack, flood, waitUntil } from "./bench-stack.ts";
import type { Usage } from "./prices.ts";

const at = (iso: string | undefined) => Date.parse(iso ?? "");

/** AWS usage of what ran since the last resetCounts, per task. */
export interface Measured {
  usage: Usage;
  calls: Record<string, number>;
  /** AWS calls per task, idle polling (empty receives) left out. */
  callsPerTask: number;
  scans: number;
  /** DynamoDB request units per task by "Operation table[/index]". */
  unitsBy: Record<string, number>;
  /** Tasks the figures are divided by. */
  tasks: number;
  /** Write units by partition key, in all (not per task); empty unless keys were attributed. */
  keyUnits: KeyUnits[];
  /** Billable SQS requests per task by queue name. */
  sqsByQueue: Record<string, number>;
}

/** `apiRequests`: API requests made for these tasks (each an API Lambda invocation on AWS). */
export function usagePerTask(counter: AwsCallCounter, tasks: number, apiRequests: number): Measured {
  const calls = counter.snapshot();
  const units = counter.units();
  const sum = (match: (operation: string) => boolean) =>
    Object.entries(calls)
      .filter(([operation]) => match(operation))
      .reduce((total, [, n]) => total + n, 0);
  const working = (operation: string) => !operation.endsWith("(empty)");
  const workerInvocations = calls["SQS.ReceiveMessage"] ?? 0;
  return {
    usage: {
      sqsRequests: counter.billableSqsRequests() / tasks,
      writeUnits: (units.write + units.refusedWrites) / tasks,
      readUnits: units.read / tasks,
      // One worker invocation per batch received, one api invocation per API request.
      lambdaInvocations: (workerInvocations + apiRequests) / tasks,
      schedulerInvocations: sum((o) => o.startsWith("Scheduler.Create")) / tasks,
      apiRequests: apiRequests / tasks,
    },
    calls,
    callsPerTask: sum(working) / tasks,
    scans: calls["DynamoDB.Scan"] ?? 0,
    unitsBy: Object.fromEntries(
      Object.entries(counter.unitsByTarget()).map(([target, units]) => [target, units / tasks]),
    ),
    tasks,
    keyUnits: counter.unitsByKey(),
    sqsByQueue: Object.fromEntries(
      Object.entries(counter.sqsRequestsByQueue()).map(([queue, n]) => [queue, n / tasks]),
    ),
  };
}

const measure = (b: BenchStack, tasks: number) => usagePerTask(b.counter, tasks, b.apiRequests());

async function define(b: BenchStack, name: string, body: Record<string, unknown>, bearer?: string) {
  b.names.definitions.add(name);
  await b.call("PUT", `/v1/definitions/${name}`, body, bearer);
}

async function untilSucceeded(b: BenchStack, definition: string, count: number, tenant = "bench") {
  await waitUntil(
    `${count} ${definition} runs`,
    async () => (await b.succeeded(definition, tenant)) >= count,
  );
}

const startBody = (definition: string, extra: Record<string, unknown> = {}) => ({
  definition,
  params: { text: "hello" },
  ...extra,
});

/** Tasks/s from the first start request to the last run's end. */
export async function throughput(b: BenchStack, tasks: number, clients: number, definition: string) {
  await define(b, definition, { handler: "echo" });
  const t0 = Date.now();
  await flood(clients, tasks, () => b.call("POST", "/v1/tasks", startBody(definition)));
  await untilSucceeded(b, definition, tasks);
  const last = Math.max(...(await b.allRuns(definition)).map((r) => at(r.endedAt)));
  return tasks / ((last - t0) / 1000);
}

/**
 * The same throughput with the starts made in-process through `startTask`, the use case the api
 * route calls: no HTTP, no key lookup. The floor has neither, so this row shows how much of the
 * gap to it is the front door rather than the lifecycle.
 */
export async function throughputInProcess(b: BenchStack, tasks: number, clients: number, definition: string) {
  await define(b, definition, { handler: "echo" });
  const caller = { kind: "tenant", tenant: "bench", role: "runner", keyId: "bench" } as const;
  const t0 = Date.now();
  await flood(clients, tasks, () => startTask(b.stack.services, caller, startBody(definition)));
  await untilSucceeded(b, definition, tasks);
  const last = Math.max(...(await b.allRuns(definition)).map((r) => at(r.endedAt)));
  return tasks / ((last - t0) / 1000);
}

export interface SteadyFigures extends Measured {
  /** createdAt → startedAt, ms. */
  latencies: number[];
}

/** Enqueue → start latency of tasks started at a steady rate, and their AWS usage. */
export async function steadyLatency(b: BenchStack, perSecond: number, count: number): Promise<SteadyFigures> {
  await define(b, "echo-steady", { handler: "echo" });
  b.resetCounts();
  await atRate(perSecond, count, () => b.call("POST", "/v1/tasks", startBody("echo-steady")));
  await untilSucceeded(b, "echo-steady", count);
  const measured = measure(b, count);
  const runs = await b.allRuns("echo-steady");
  return { ...measured, latencies: runs.map((r) => at(r.startedAt) - at(r.createdAt)) };
}

/** Runs/s through one named queue, and whether any two of its runs overlapped. */
export async function serializedQueue(
  b: BenchStack,
  count: number,
): Promise<{ rate: number; overlaps: number }> {
  await define(b, "echo-line", { handler: "echo" });
  await flood(1, count, () => b.call("POST", "/v1/tasks", startBody("echo-line", { queue: "line" })));
  await untilSucceeded(b, "echo-line", count);
  const runs = (await b.allRuns("echo-line")).sort((x, y) => at(x.startedAt) - at(y.startedAt));
  const overlaps = runs.filter((r, i) => i > 0 && at(r.startedAt) < at(runs[i - 1]?.endedAt)).length;
  const span = at(runs.at(-1)?.endedAt) - at(runs[0]?.startedAt);
  return { rate: count / (span / 1000), overlaps };
}

/** Source end → chained child start, ms, for sources started at a steady rate. */
export async function chainHops(b: BenchStack, perSecond: number, count: number): Promise<number[]> {
  await define(b, "hop-source", { handler: "echo" });
  await define(b, "hop-child", { handler: "echo" });
  await b.call("PUT", "/v1/chains/hop-child", { definition: "hop-child" });
  await atRate(perSecond, count, () =>
    b.call(
      "POST",
      "/v1/tasks",
      startBody("hop-source", {
        chain: { name: "hop-child", params: [{ name: "from", value: "@TaskID@" }] },
      }),
    ),
  );
  await untilSucceeded(b, "hop-child", count);
  const sources = new Map((await b.allRuns("hop-source")).map((r) => [r.id, r]));
  // A list leaves params out: each child is read whole for the source it names.
  const children = await Promise.all((await b.allRuns("hop-child")).map((child) => b.observer.get(child)));
  return children.map((child) => at(child?.startedAt) - at(sources.get(String(child?.params.from))?.endedAt));
}

/** Starts `count` callback tasks and waits until each is awaiting; returns task id → token. */
async function awaitingCallbacks(b: BenchStack, definition: string, count: number) {
  const ids: string[] = [];
  await flood(8, count, async () => {
    ids.push(((await b.call("POST", "/v1/tasks", startBody(definition))) as { taskId: string }).taskId);
  });
  const tokens = new Map<string, string>();
  await waitUntil(`${count} awaiting callbacks`, async () => {
    for (const id of ids) {
      if (tokens.has(id)) continue;
      const run = await b.observer.get({ tenant: "bench", id });
      // The example hands its token out in a private file (examples/await-callback.ts).
      if (run?.status !== "awaiting") continue;
      const token = await readFile(callbackTokenFile(id), "utf8").catch(() => "");
      if (token.trim() !== "") tokens.set(id, token.trim());
    }
    return tokens.size === ids.length;
  });
  return tokens;
}

const callback = (b: BenchStack, id: string, token: string) =>
  b.call("POST", "/v1/callbacks", { taskId: id, status: "SUCCESS", output: { ok: true } }, token);

/** POST /v1/callbacks → its answer (the run is succeeded by then), ms, one after another. */
export async function callbackRoundTrips(b: BenchStack, count: number): Promise<number[]> {
  await define(b, "cb-trip", { handler: "await-callback", mode: "callback" });
  const tokens = await awaitingCallbacks(b, "cb-trip", count);
  const trips: number[] = [];
  for (const [id, token] of tokens) {
    const t0 = performance.now();
    await callback(b, id, token);
    trips.push(performance.now() - t0);
  }
  const ended = (await b.allRuns("cb-trip")).filter((r) => r.status === "succeeded").length;
  if (ended !== count) throw new Error(`only ${ended} of ${count} callback runs succeeded`);
  return trips;
}

/** The kinds of task whose usage is measured, and how the table names them. */
export const KIND_LABELS = {
  plain: "plain",
  queued: "queued (named queue)",
  limited: "limited (maxConcurrency 4)",
  callback: "callback (start + one callback)",
  chained: "chained (source + child, per task)",
  workflowStep: "workflow step (2-step workflow, per step)",
  limitedWide: "limited (maxConcurrency 500)",
} as const;
export type Kind = keyof typeof KIND_LABELS;

/**
 * AWS usage per task of each kind, each measured on its own, with every write unit attributed
 * to its partition key (the counter reads each written item before and after: the latencies of
 * these runs are not representative, their units are).
 */
export async function usageByKind(b: BenchStack, count: number): Promise<Record<Kind, Measured>> {
  await define(b, "cost-plain", { handler: "echo" });
  await define(b, "cost-queued", { handler: "echo" });
  await define(b, "cost-limited", { handler: "echo", maxConcurrency: 4 });
  await define(b, "cost-limited-wide", { handler: "echo", maxConcurrency: 500 });
  await define(b, "cost-callback", { handler: "await-callback", mode: "callback" });
  await define(b, "cost-source", { handler: "echo" });
  await define(b, "cost-child", { handler: "echo" });
  await b.call("PUT", "/v1/chains/cost-child", { definition: "cost-child" });
  await define(b, "cost-step", { handler: "echo" });
  await define(b, "cost-flow", {
    kind: "workflow",
    steps: [
      { id: "first", definition: "cost-step" },
      { id: "second", definition: "cost-step", dependsOn: ["first"] },
    ],
  });
  b.names.queues.add("cost");
  /** Starts `starts` tasks, waits for `expect` succeeded runs of `done`, and divides by `tasks`. */
  const kind = async (
    definition: string,
    extra: Record<string, unknown>,
    wait: { done: string; expect: number; tasks: number; starts?: number },
  ) => {
    b.resetCounts();
    await flood(8, wait.starts ?? count, () => b.call("POST", "/v1/tasks", startBody(definition, extra)));
    await untilSucceeded(b, wait.done, wait.expect);
    return measure(b, wait.tasks);
  };
  const once = (definition: string) => ({ done: definition, expect: count, tasks: count });
  b.counter.attributeKeys(b.keyAttribution);
  try {
    const plain = await kind("cost-plain", {}, once("cost-plain"));
    const queued = await kind("cost-queued", { queue: "cost" }, once("cost-queued"));
    const limited = await kind("cost-limited", {}, once("cost-limited"));
    const limitedWide = await kind("cost-limited-wide", {}, once("cost-limited-wide"));
    b.resetCounts();
    const tokens = await awaitingCallbacks(b, "cost-callback", count);
    for (const [id, token] of tokens) await callback(b, id, token);
    const callbackKind = measure(b, count);
    // A chained pair is two tasks: the source and the child it starts.
    const chained = await kind(
      "cost-source",
      { chain: { name: "cost-child" } },
      { done: "cost-child", expect: count, tasks: 2 * count },
    );
    // Two-step workflows: per step, the workflow's own bookkeeping included.
    const workflows = Math.ceil(count / 2);
    const workflowStep = await kind(
      "cost-flow",
      {},
      { done: "cost-flow", expect: workflows, tasks: 2 * workflows, starts: workflows },
    );
    return { plain, queued, limited, callback: callbackKind, chained, workflowStep, limitedWide };
  } finally {
    b.counter.attributeKeys(undefined);
  }
}

export interface HeartbeatFigures {
  /** The run's size (as JSON) when the writes were made, bytes: params and logs. */
  runBytes: number;
  /** Write units of one write of each kind, as DynamoDB reports them. */
  wru: { heartbeat: number; progress: number; feedback: number };
}

/**
 * What one heartbeat, progress or feedback write costs on a large run: a running run with about
 * 290 KB of params (250 KB) and logs (32 KB, the most a run keeps) gets the writes its attempt makes (`runs.update` with the
 * attempt's guard, as AttemptLease.write does), one of each kind, each measured alone.
 */
export async function heartbeatWrites(b: BenchStack): Promise<HeartbeatFigures> {
  await define(b, "cost-heartbeat", { handler: "sleep" });
  const caller = { kind: "tenant", tenant: "bench", role: "runner", keyId: "bench" } as const;
  const started = await startTask(b.stack.services, caller, {
    definition: "cost-heartbeat",
    // One step of 60 s: the handler itself writes nothing while the writes below are measured.
    params: { ms: 60_000, steps: 1, pad: "p".repeat(250 * 1024 - 100) },
  });
  const taskId = started.run.id;
  let run: Run | undefined;
  await waitUntil("the heartbeat run to start", async () => {
    run = await b.observer.get({ tenant: "bench", id: taskId });
    return run?.status === "running";
  });
  if (run === undefined) throw new Error("no heartbeat run");
  const runs = b.stack.services.runs;
  const guard = { status: "running", attempts: run.attempts, notCancelRequested: true } as const;
  const now = () => new Date().toISOString();
  const logs = Array.from({ length: 16 }, (_, i) => ({ at: now(), line: `${i} ${"l".repeat(1990)}` }));
  await runs.update(refOf(run), guard, { logs, updatedAt: now() });
  const large = await b.observer.get({ tenant: "bench", id: taskId });
  const one = async (patch: Parameters<typeof runs.update>[2]) => {
    b.resetCounts();
    await runs.update(refOf(run as Run), guard, { ...patch, updatedAt: now() });
    const units = b.counter.units();
    return units.write + units.refusedWrites;
  };
  // Each as the sleep handler and the lease make them: a lease, a fraction, a short line.
  const wru = {
    heartbeat: await one({ leaseUntil: new Date(Date.now() + 30_000).toISOString() }),
    progress: await one({ progress: 0.5 }),
    feedback: await one({ feedback: "step 1/10" }),
  };
  await cancelTask(b.stack.services, caller, taskId);
  return { runBytes: Buffer.byteLength(JSON.stringify(large ?? {})), wru };
}

export interface ScaleFigures extends Measured {
  latencies: number[];
}

/**
 * Puts `waiting` runs in the line of a limited definition whose `limit` slots are taken, the
 * worker stopped. The first `limit + 1` runs go through the real start (startTask: admission,
 * transaction, counters); the last of them waits and is the template of the rest: its items are
 * copied under new run ids (the stack's own id generator, so they line up after it) in batch
 * writes, and the counters item is set to the line's length with the sweeper's repair. The line
 * is then the same items and counters that `waiting` starts write (one transaction each), at
 * 1,000s of runs/s instead of ~70/s on DynamoDB Local. Promotion and runs then go through the
 * real worker.
 */
async function fillLine(b: BenchStack, name: string, waiting: number, limit: number): Promise<void> {
  const caller = { kind: "tenant", tenant: "bench", role: "runner", keyId: "bench" } as const;
  await flood(4, limit + 1, () =>
    startTask(b.stack.services, caller, { definition: name, params: { text: "hello" } }),
  );
  const [template] = await b.allRuns(name, "bench", "waiting");
  if (template === undefined) throw new Error(`no run waits in ${name}`);
  const table = `${b.stack.prefix}runs`;
  const items = await b.dynamo.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: "pk = :pk",
      ExpressionAttributeValues: { ":pk": `bench#${template.id}` },
    }),
  );
  const text = JSON.stringify(items.Items ?? []);
  const clones = Array.from({ length: waiting - 1 }, () =>
    JSON.parse(text.replaceAll(template.id, b.stack.services.newId())),
  ).flat() as Record<string, unknown>[];
  const batches = Array.from({ length: Math.ceil(clones.length / 25) }, (_, i) =>
    clones.slice(i * 25, i * 25 + 25),
  );
  await flood(4, batches.length, async (i) => {
    let requests = (batches[i] ?? []).map((Item) => ({ PutRequest: { Item } }));
    while (requests.length > 0) {
      const result = await b.dynamo.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }));
      requests = (result.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  });
  const counters = await b.stack.services.counters.get("bench", name);
  if (counters === undefined) throw new Error(`no counters for ${name}`);
  await b.stack.services.counters.repair(counters, { running: limit, waiting, at: new Date().toISOString() });
}

export interface ScaleFigures extends Measured {
  latencies: number[];
}

/**
 * A limited definition (maxConcurrency `limit`) with `waiting` runs in line: the first `sample`
 * runs through it, their AWS usage, and each slot's hand-off (a run's end → the next run's start).
 */
export async function lineDrain(
  b: BenchStack,
  waiting: number,
  sample: number,
  limit: number,
): Promise<ScaleFigures> {
  const name = `line-${waiting}`;
  await define(b, name, { handler: "echo", maxConcurrency: limit });
  await b.stack.stopWorker();
  await fillLine(b, name, waiting, limit);
  b.resetCounts();
  b.stack.startWorker();
  await untilSucceeded(b, name, sample);
  const measured = measure(b, sample);
  // Leave the rest of a long line where it is, so it does not run under later workloads.
  await b.stack.stopWorker();
  const ran = (await b.allRuns(name, "bench", "succeeded")).sort((x, y) => at(x.startedAt) - at(y.startedAt));
  const starts = ran.map((r) => at(r.startedAt));
  const ends = ran.map((r) => at(r.endedAt)).sort((x, y) => x - y);
  // With every slot busy, the k-th end frees the slot of the (k + limit)-th start.
  const latencies = starts.slice(limit).map((start, k) => start - (ends[k] ?? Number.NaN));
  b.stack.startWorker();
  return { ...measured, latencies };
}

/** Enqueue → start latency and usage with `tenants` tenants starting tasks in turn at a steady rate. */
export async function manyTenants(
  b: BenchStack,
  tenants: number,
  perSecond: number,
  count: number,
): Promise<SteadyFigures> {
  const keys: string[] = [];
  for (let i = 0; i < tenants; i += 1) {
    const key = newApiKey().key;
    const tenant = `bench-${String(i).padStart(3, "0")}`;
    await ensureTenantKey(b.stack.services, { tenant, role: "admin", key });
    await define(b, "echo-tenant", { handler: "echo" }, key);
    keys.push(key);
  }
  b.resetCounts();
  await atRate(perSecond, count, (i) =>
    b.call("POST", "/v1/tasks", startBody("echo-tenant"), keys[i % tenants]),
  );
  const runs: RunSummary[] = [];
  for (let i = 0; i < tenants; i += 1) {
    const tenant = `bench-${String(i).padStart(3, "0")}`;
    const expected = Math.floor(count / tenants) + (i < count % tenants ? 1 : 0);
    await untilSucceeded(b, "echo-tenant", expected, tenant);
    runs.push(...(await b.allRuns("echo-tenant", tenant)));
  }
  const measured = measure(b, count);
  return { ...measured, latencies: runs.map((r) => at(r.startedAt) - at(r.createdAt)) };
}
