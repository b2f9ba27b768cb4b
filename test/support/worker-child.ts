/** A worker-only Baton process (test/support/worker-process.ts) beside a test's stack, to SIGKILL mid-run. */
import { type ChildProcess, spawn } from "node:child_process";
import type { TestStack } from "./stack.ts";

/** Resolves once the process says it is ready; rejects if it exits first. */
export function startWorkerProcess(stack: TestStack, leaseSeconds = 3): Promise<ChildProcess> {
  const worker = spawn(process.execPath, ["--import", "tsx", "test/support/worker-process.ts"], {
    env: {
      ...process.env,
      BATON_TEST_ENDPOINTS: JSON.stringify(stack.endpoints),
      BATON_TEST_PREFIX: stack.prefix,
      BATON_TEST_LEASE_SECONDS: String(leaseSeconds),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    worker.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("worker ready")) resolve(worker);
    });
    worker.once("exit", (code) => reject(new Error(`worker process exited early (${code})`)));
  });
}

/** SIGKILLs the process (no cleanup, as a lost Lambda host) and waits for it to be gone. */
export async function killWorkerProcess(worker: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  worker.kill("SIGKILL");
  await exited;
}
