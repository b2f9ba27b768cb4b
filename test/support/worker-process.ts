/**
 * A worker-only Baton process for crash tests: `node --import tsx test/support/worker-process.ts`
 * with BATON_TEST_ENDPOINTS (JSON) and BATON_TEST_PREFIX. The test SIGKILLs it mid-run.
 */
import { startLocalStack } from "../../local/stack.ts";
import { silentLog } from "./stack.ts";
import { testRegistry } from "./test-tasks.ts";

const endpoints = JSON.parse(process.env.BATON_TEST_ENDPOINTS ?? "{}");
await startLocalStack({
  registry: testRegistry,
  endpoints,
  prefix: process.env.BATON_TEST_PREFIX ?? "",
  port: null,
  workerConcurrency: 1,
  leaseSeconds: Number(process.env.BATON_TEST_LEASE_SECONDS ?? 3),
  flushIntervalMs: 100,
  sweepIntervalMs: 0,
  log: silentLog,
});
process.stdout.write("worker ready\n");
