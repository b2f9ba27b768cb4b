/**
 * npm run bench:delays — on the local stack: how late 200 delayed starts begin (the local timer
 * loop standing in for the SQS delay queue / EventBridge Scheduler), AWS calls per callback task
 * (start, handler, one final callback), and chain hops: how long from a run's success to its
 * chained child running, and the AWS calls a hop adds to a plain task.
 *
 *   BENCH_DELAYED=200   delayed starts, due 1–3 s after they are made
 *   BENCH_CALLBACKS=100 callback tasks
 *   BENCH_HOPS=200      chain hops
 */
import { cpus } from "node:os";
import { percentile, startBenchStack } from "./bench-stack.ts";

const DELAYED = Number(process.env.BENCH_DELAYED ?? 200);
const CALLBACKS = Number(process.env.BENCH_CALLBACKS ?? 100);
const HOPS = Number(process.env.BENCH_HOPS ?? 200);
const { stack, counter, call, observer, allRuns } = await startBenchStack({ sweepIntervalMs: 0 });
const pct = percentile;

await call("PUT", "/v1/definitions/echo-source", { handler: "echo" });
// Delayed starts.
await call("PUT", "/v1/definitions/later", { handler: "echo" });
await Promise.all(
  Array.from({ length: DELAYED }, (_, i) =>
    call("POST", "/v1/tasks", { definition: "later", after: 1_000 + (i * 2_000) / DELAYED }),
  ),
);
let delayed = await allRuns("later");
while (!delayed.every((r) => r.status === "succeeded")) {
  await new Promise((resolve) => setTimeout(resolve, 200));
  delayed = await allRuns("later");
}
const lateness = delayed.map((r) => Date.parse(r.startedAt ?? "") - Date.parse(r.scheduledFor ?? ""));

// Callback tasks: the calls of start, handler and one final callback, per task.
await call("PUT", "/v1/definitions/cb", { handler: "await-callback", mode: "callback" });
counter.reset();
const ids: string[] = [];
for (let i = 0; i < CALLBACKS; i += 1)
  ids.push(((await call("POST", "/v1/tasks", { definition: "cb" })) as { taskId: string }).taskId);
const tokens = new Map<string, string>();
while (tokens.size < ids.length) {
  for (const id of ids) {
    if (tokens.has(id)) continue;
    const run = await observer.get({ tenant: "bench", id });
    const line =
      run?.status === "awaiting" ? run.logs.find((l) => l.line.startsWith("callbackToken ")) : undefined;
    if (line) tokens.set(id, line.line.slice("callbackToken ".length));
  }
}
const callsBeforeCallbacks = counter.snapshot();
const started = performance.now();
for (const id of ids)
  await call("POST", "/v1/callbacks", { taskId: id, status: "SUCCESS", logs: "done" }, tokens.get(id));
const roundTrip = (performance.now() - started) / ids.length;
const calls = counter.snapshot();

console.log(
  `\nBaton local stack — delayed starts and callback tasks (${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node})\n`,
);
console.log(`| delayed starts (${DELAYED}) | lateness p50 / p99 / max |`);
console.log("|---|---|");
console.log(
  `| startedAt − scheduledFor | ${[50, 99, 100].map((p) => `${pct(lateness, p).toFixed(0)} ms`).join(" / ")} |`,
);
console.log(
  `\nAWS calls per callback task (${CALLBACKS}; the bench's own reads of the runs are not counted):\n`,
);
console.log("| operation | until awaiting | with the final callback |");
console.log("|---|---|---|");
for (const operation of Object.keys(calls).sort()) {
  console.log(
    `| ${operation} | ${((callsBeforeCallbacks[operation] ?? 0) / CALLBACKS).toFixed(2)} | ${((calls[operation] ?? 0) / CALLBACKS).toFixed(2)} |`,
  );
}
console.log(`\ncallback round trip (POST /v1/callbacks, sequential): ${roundTrip.toFixed(1)} ms mean`);

// Chain hops: the same number of plain echo tasks, then of echo tasks that each chain to another.
await call("PUT", "/v1/definitions/plain", { handler: "echo" });
await call("PUT", "/v1/definitions/hop", { handler: "echo" });
await call("PUT", "/v1/chains/hop", { definition: "hop" });
const callsOf = async (definition: string, body: Record<string, unknown>, finished: string) => {
  counter.reset();
  await Promise.all(Array.from({ length: HOPS }, () => call("POST", "/v1/tasks", { definition, ...body })));
  let runs = await allRuns(finished);
  while (runs.length < HOPS || !runs.every((r) => r.status === "succeeded")) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    runs = await allRuns(finished);
  }
  const calls = counter.snapshot();
  return { runs, total: Object.values(calls).reduce((a, b) => a + b, 0) / HOPS, calls };
};
const plain = await callsOf("plain", {}, "plain");
const hops = await callsOf(
  "echo-source",
  { chain: { name: "hop", params: [{ name: "from", value: "@TaskID@" }] } },
  "hop",
);
const sources = new Map((await allRuns("echo-source")).map((r) => [r.id, r]));
const hopLatency = hops.runs.map((child) => {
  const source = sources.get(String(child.params.from));
  return Date.parse(child.startedAt ?? "") - Date.parse(source?.endedAt ?? "");
});
console.log(`\n| chain hops (${HOPS}) | source succeeded → child running, p50 / p99 |`);
console.log("|---|---|");
console.log(`| latency | ${[50, 99].map((p) => `${pct(hopLatency, p).toFixed(0)} ms`).join(" / ")} |`);
console.log(
  `\nAWS calls: a plain task ${plain.total.toFixed(2)}, a task with one chained child ${hops.total.toFixed(2)} (the hop adds ${(hops.total - plain.total).toFixed(2)}):\n`,
);
console.log("| operation | plain task | task + chained child |");
console.log("|---|---|---|");
for (const operation of [...new Set([...Object.keys(plain.calls), ...Object.keys(hops.calls)])].sort()) {
  console.log(
    `| ${operation} | ${((plain.calls[operation] ?? 0) / HOPS).toFixed(2)} | ${((hops.calls[operation] ?? 0) / HOPS).toFixed(2)} |`,
  );
}
await stack.stop();
