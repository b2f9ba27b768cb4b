/**
 * A whole Baton process (api and worker) for the SIGKILL tests:
 * `node --import tsx test/faults/stack-process.ts` with BATON_TEST_ENDPOINTS (JSON),
 * BATON_TEST_PREFIX and BATON_TEST_LEASE_SECONDS. Prints `ready <url>`; the test kills it.
 */
import { startLocalStack } from "../../local/stack.ts";
import { testRegistry } from "../support/test-tasks.ts";

const stack = await startLocalStack({
  registry: testRegistry,
  endpoints: JSON.parse(process.env.BATON_TEST_ENDPOINTS ?? "{}"),
  prefix: process.env.BATON_TEST_PREFIX ?? "",
  port: 0,
  workerConcurrency: 3,
  leaseSeconds: Number(process.env.BATON_TEST_LEASE_SECONDS ?? 3),
  flushIntervalMs: 100,
  sweepIntervalMs: 0,
  log: { debug() {}, info() {}, warn() {}, error() {} },
});
process.stdout.write(`ready ${stack.url}\n`);
