/**
 * npm run bench:events — on the local stack: how long a progress write takes to reach a client
 * of GET /v1/tasks/{id}/events. The bench writes a run's progress into the run store the way a
 * worker's flush does (a conditional UpdateItem) and times from that write's return to the
 * frame carrying it, through the dev server's HTTP stream. Writes come at random moments of the
 * stream's 500 ms poll, as a worker's do. The worker's own flush interval (1 s by default), which
 * batches a handler's ctx.progress() calls before the write, comes on top.
 *
 *   BENCH_EVENTS=200   progress writes timed
 */
import { cpus } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { EVENTS_POLL_MS } from "../shared/app/run-watch.ts";
import { openSse } from "../test/support/sse.ts";
import { formatMs, percentiles, startBenchStack } from "./bench-stack.ts";

const WRITES = Number(process.env.BENCH_EVENTS ?? 200);
// No worker: the run stays queued, and only the bench writes to it.
const { stack, call } = await startBenchStack({ sweepIntervalMs: 0, runWorker: false });

await call("PUT", "/v1/definitions/watched", { handler: "echo" });
const { taskId } = (await call("POST", "/v1/tasks", { definition: "watched" })) as { taskId: string };
const { token } = (await call("POST", `/v1/tasks/${taskId}/read-token`)) as { token: string };
const run = await stack.services.runs.get({ tenant: "bench", id: taskId });
if (run === undefined) throw new Error("the run is not there");

const stream = await openSse(`${stack.url}/v1/tasks/${taskId}/events?token=${token}`);
if ((await stream.next())?.event !== "snapshot") throw new Error("the stream did not open with a snapshot");

const latencies: number[] = [];
for (let i = 1; i <= WRITES; i += 1) {
  await sleep(Math.random() * EVENTS_POLL_MS);
  const progress = i / WRITES;
  await stack.services.runs.update(
    { tenant: run.tenant, id: run.id },
    { status: run.status, attempts: run.attempts },
    { progress, updatedAt: new Date().toISOString() },
  );
  const written = performance.now();
  for (;;) {
    const frame = await stream.next();
    if (frame === undefined) throw new Error("the stream closed");
    if (frame.event === "progress" && frame.data.progress === progress) break;
  }
  latencies.push(performance.now() - written);
}
await stream.close();

console.log(
  `\nBaton local stack — live events (${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node})\n`,
);
console.log(
  `| progress write → event at the client (${WRITES} writes, ${EVENTS_POLL_MS} ms poll) | p50 / p95 / max |`,
);
console.log("|---|---|");
console.log(
  `| UpdateItem returned → \`progress\` frame read | ${percentiles(latencies, [50, 95, 100])
    .map((v) => `${formatMs(v)} ms`)
    .join(" / ")} |`,
);
await stack.stop();
