/** A handler that started a child, SIGKILLed mid-attempt and retried, starts that child once. */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
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
  await stack.request("PUT", "/v1/definitions/starter", { body: { handler: "starter" } });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
});
afterAll(async () => {
  child?.kill("SIGKILL");
  await stack?.stop();
});

it("a handler that started a child and was SIGKILLed starts no second child when retried", async () => {
  const marks = join(mkdtempSync(join(tmpdir(), "baton-crash-")), "marks.log");
  child = await startWorkerProcess(stack);
  const started = await stack.request("POST", "/v1/tasks", {
    body: {
      definition: "starter",
      params: { holdFile: marks, starts: [{ definition: "echo", params: { n: 1 } }] },
    },
  });
  const taskId: string = started.body.taskId;
  // The child is started before the handler writes its mark and holds; kill it there.
  await waitFor(
    async () => (existsSync(marks) ? true : undefined),
    20_000,
    "the first attempt to start its child",
  );
  await killWorkerProcess(child);

  stack.startWorker();
  const parent = await waitForEnd(stack, taskId, 30_000);
  expect(parent).toMatchObject({ status: "succeeded", attempts: 2 });
  const [again] = parent.output.results;
  const listed = (await stack.request("GET", `/v1/tasks/${taskId}/started`)).body.items;
  expect(listed.map((item: { taskId: string }) => item.taskId)).toEqual([again.taskId]);
  expect((await waitForEnd(stack, again.taskId)).status).toBe("succeeded");
});
