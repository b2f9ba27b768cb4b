/**
 * npm run bench:delays — on the local stack: how late 200 delayed starts begin (the local timer
 * loop standing in for the SQS delay queue / EventBridge Scheduler). Chain hops and callbacks
 * are rows of `npm run bench`.
 *
 *   BENCH_DELAYED=200   delayed starts, due 1–3 s after they are made
 */
import { cpus } from "node:os";
import { formatMs, percentiles, startBenchStack, waitUntil } from "./bench-stack.ts";

const DELAYED = Number(process.env.BENCH_DELAYED ?? 200);
const { stack, call, allRuns } = await startBenchStack({ sweepIntervalMs: 0 });

await call("PUT", "/v1/definitions/later", { handler: "echo" });
await Promise.all(
  Array.from({ length: DELAYED }, (_, i) =>
    call("POST", "/v1/tasks", { definition: "later", after: 1_000 + (i * 2_000) / DELAYED }),
  ),
);
await waitUntil("delayed starts", async () =>
  (await allRuns("later")).every((r) => r.status === "succeeded"),
);
const lateness = (await allRuns("later")).map(
  (r) => Date.parse(r.startedAt ?? "") - Date.parse(r.scheduledFor ?? ""),
);

console.log(
  `\nBaton local stack — delayed starts (${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.versions.node})\n`,
);
console.log(`| delayed starts (${DELAYED}) | lateness p50 / p99 / max |`);
console.log("|---|---|");
console.log(
  `| startedAt − scheduledFor | ${percentiles(lateness, [50, 99, 100])
    .map((v) => `${formatMs(v)} ms`)
    .join(" / ")} |`,
);
await stack.stop();
