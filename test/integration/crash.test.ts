/** A worker process killed mid-run (SIGKILL, no cleanup): the run is retried and completes. */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";
import { killWorkerProcess, startWorkerProcess } from "../support/worker-child.ts";

let stack: TestStack;
let child: ChildProcess | undefined;

beforeAll(async () => {
  // This process serves the API but runs no worker until the child has been killed.
  stack = await startTestStack({ runWorker: false, leaseSeconds: 3 });
  await stack.request("PUT", "/v1/definitions/hold", { body: { handler: "effect-then-hold" } });
});
afterAll(async () => {
  child?.kill("SIGKILL");
  await stack?.stop();
});

it("retries the run of a SIGKILLed worker after its lease runs out; once-effects stay once", async () => {
  const effects = join(mkdtempSync(join(tmpdir(), "baton-crash-")), "effects.log");
  child = await startWorkerProcess(stack);
  const started = await stack.request("POST", "/v1/tasks", {
    body: { definition: "hold", params: { file: effects, holdMs: 120_000 } },
  });
  const taskId: string = started.body.taskId;

  // Kill only once the first attempt is running and its once-effect has been recorded.
  await waitFor(
    async () => {
      const task = (await stack.request("GET", `/v1/tasks/${taskId}`)).body;
      return task.status === "running" && task.feedback === "effect recorded on attempt 1" ? task : undefined;
    },
    20_000,
    "the first attempt to record its effect",
  );
  await killWorkerProcess(child);
  // The lease the dead worker last wrote: nothing may take the run over before it runs out.
  const { leaseUntil } = (await stack.services.runs.get({ tenant: "acme", id: taskId })) ?? {};
  expect(leaseUntil).toEqual(expect.any(String));

  stack.startWorker();
  const task = await waitForEnd(stack, taskId, 30_000);
  expect(task).toMatchObject({ status: "succeeded", attempts: 2, output: { finishedOnAttempt: 2 } });
  // Recovery waited for the lease rather than stealing a live run.
  const retried = await stack.services.runs.get({ tenant: "acme", id: taskId });
  expect(Date.parse(retried?.attemptStartedAt ?? "")).toBeGreaterThanOrEqual(Date.parse(leaseUntil ?? ""));
  expect(readFileSync(effects, "utf8").trim().split("\n")).toEqual([`acme:${taskId}:effect attempt 1`]);
});
