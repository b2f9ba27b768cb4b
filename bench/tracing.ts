/**
 * npm run bench:tracing — what tracing adds to a plain task: the same plain `echo` tasks on the
 * local stack with OTEL_EXPORTER_OTLP_ENDPOINT unset, then set to an OTLP/HTTP receiver this
 * bench runs. Per task: DynamoDB units, SQS requests and AWS calls (the trace context rides in
 * the run item and the message Baton already writes, so these should not move), spans and OTLP
 * bytes exported, and the process's CPU time (the API, the worker and the SQS emulator run in
 * this process; DynamoDB Local does not). docs/observability.md#traces prices the difference.
 *
 *   BENCH_TRACING_TASKS=300   (tasks per phase)
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { usagePerTask } from "./baton.ts";
import { flood, startBenchStack, waitUntil } from "./bench-stack.ts";

const TASKS = Number(process.env.BENCH_TRACING_TASKS ?? 300);
const WARM = 20;

let spans = 0;
let bytes = 0;
const receiver = createServer((request, response) => {
  let body = "";
  request.on("data", (chunk: Buffer) => {
    body += chunk.toString("utf8");
    bytes += chunk.length;
  });
  request.on("end", () => {
    // OTLP/HTTP JSON: count the spans without keeping them.
    spans += (body.match(/"spanId"/g) ?? []).length;
    response.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

interface PhaseFigures {
  wru: number;
  rru: number;
  sqsRequests: number;
  calls: number;
  cpuMs: number;
  spans: number;
  otlpBytes: number;
}

async function phase(traced: boolean): Promise<PhaseFigures> {
  if (traced) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  else delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const b = await startBenchStack();
  await b.call("PUT", "/v1/definitions/trace-plain", { handler: "echo" });
  const startAll = async (count: number, done: number) => {
    await flood(8, count, () => b.call("POST", "/v1/tasks", { definition: "trace-plain", params: {} }));
    await waitUntil(`${done} traced runs`, async () => (await b.succeeded("trace-plain")) >= done);
  };
  // Not measured: the first starts warm the caches (and the exporter's connection).
  await startAll(WARM, WARM);
  b.resetCounts();
  const cpuBefore = process.cpuUsage();
  const spansBefore = spans;
  const bytesBefore = bytes;
  await startAll(TASKS, WARM + TASKS);
  const measured = usagePerTask(b.counter, TASKS, b.apiRequests());
  // Stopping shuts tracing down, which sends the spans still batched.
  await b.stack.stop();
  const cpu = process.cpuUsage(cpuBefore);
  return {
    wru: measured.usage.writeUnits,
    rru: measured.usage.readUnits,
    sqsRequests: measured.usage.sqsRequests,
    calls: measured.callsPerTask,
    cpuMs: (cpu.user + cpu.system) / 1000 / TASKS,
    spans: (spans - spansBefore) / TASKS,
    otlpBytes: (bytes - bytesBefore) / TASKS,
  };
}

const off = await phase(false);
const on = await phase(true);
receiver.close();

const row = (label: string, pick: (f: PhaseFigures) => number, digits = 2) =>
  `| ${label} | ${pick(off).toFixed(digits)} | ${pick(on).toFixed(digits)} | ${(pick(on) - pick(off)).toFixed(digits)} |`;
console.log(`\nTracing — ${TASKS} plain tasks per phase, OTLP/HTTP JSON to a local receiver\n`);
console.log("| per task | tracing off | tracing on | added |");
console.log("|---|---|---|---|");
console.log(row("DynamoDB write units", (f) => f.wru));
console.log(row("DynamoDB read units", (f) => f.rru));
console.log(row("SQS requests", (f) => f.sqsRequests));
console.log(row("AWS calls", (f) => f.calls));
console.log(row("spans exported", (f) => f.spans));
console.log(row("OTLP bytes exported", (f) => f.otlpBytes, 0));
console.log(row("CPU time in this process, ms", (f) => f.cpuMs));
