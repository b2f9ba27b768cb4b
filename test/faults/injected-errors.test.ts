/**
 * DynamoDB and SQS fail at a seeded rate (throttling, 500s, dropped connections, and calls that
 * were applied but answered with an error), inside and outside the SDK's retries, while runs of
 * every kind go through the API and the worker. Then the faults stop and the sweeper runs: every
 * accepted run ends, none twice, no effect is applied twice, the counters are back at zero, and
 * the API only ever answered 2xx, an expected 4xx, a 503 `unavailable` with Retry-After, or a clean
 * 500 `{error, message}`.
 *
 * Replay a failure with BATON_FAULT_SEED=<seed printed below>.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FaultInjector, seededRandom } from "../support/fault-injector.ts";
import { startTestStack, type TestResponse, type TestStack, waitFor } from "../support/stack.ts";
import {
  effectsAfterRecord,
  pause,
  readEffects,
  repeatedCalls,
  seedFromEnv,
  storedRuns,
  sweepAhead,
  TERMINAL,
} from "./support.ts";

const SEED = seedFromEnv();
const RATE = Number(process.env.BATON_FAULT_RATE ?? 0.08);
const RUNS = { plain: 60, limited: 40, named: 40, callback: 30 } as const;

const faults = new FaultInjector({ seed: SEED, rate: RATE });
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    instrumentClient: faults.instrument,
    workerConcurrency: 4,
    leaseSeconds: 4,
  });
  const common = { handler: "once-effect", maxAttempts: 10 };
  await stack.request("PUT", "/v1/definitions/plain", { body: common });
  await stack.request("PUT", "/v1/definitions/limited", {
    body: { ...common, maxConcurrency: 2, maxQueueLength: 1000 },
  });
  await stack.request("PUT", "/v1/definitions/named", { body: common });
  await stack.request("PUT", "/v1/definitions/callback", {
    body: { ...common, mode: "callback", callbackTimeoutSeconds: 3600 },
  });
});
afterAll(async () => {
  faults.enabled = false;
  await stack?.stop();
});

/** Every answer, by status; a 5xx must be the clean `{error, message}` body, never a dropped connection. */
const answers = new Map<number, number>();
const badAnswers: string[] = [];
async function call(method: string, path: string, body: unknown, key?: string): Promise<TestResponse> {
  let response: TestResponse;
  try {
    response = await stack.request(method, path, { body, ...(key === undefined ? {} : { key }) });
  } catch (error) {
    badAnswers.push(`${method} ${path}: no answer (${String(error)})`);
    throw error;
  }
  answers.set(response.status, (answers.get(response.status) ?? 0) + 1);
  // A platform failure is a 503 {error: "unavailable"} with Retry-After; anything else that slips
  // through must still be a clean {error, message}.
  const unavailable =
    response.status === 503 &&
    response.body?.error === "unavailable" &&
    response.headers.get("retry-after") !== null;
  const clean5xx =
    unavailable ||
    (response.status === 500 &&
      response.body?.error === "internal_error" &&
      typeof response.body?.message === "string");
  if (response.status >= 500 && !clean5xx) {
    badAnswers.push(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
  }
  return response;
}

it("loses no run and applies no effect twice when DynamoDB and SQS fail at random", {
  timeout: 180_000,
}, async () => {
  const started = Date.now();
  const effects = join(mkdtempSync(join(tmpdir(), "baton-faults-")), "effects.log");
  const random = seededRandom(SEED ^ 0x5eed);
  const starts: Array<{ definition: string; queue?: string; key: string }> = [];
  for (const [definition, count] of Object.entries(RUNS)) {
    for (let i = 0; i < count; i += 1) {
      starts.push({
        definition,
        ...(definition === "named" ? { queue: `line-${i % 3}` } : {}),
        key: `${definition}-${i}`,
      });
    }
  }
  starts.sort(() => random() - 0.5);

  faults.enabled = true;
  // Clients retry a 5xx with the same idempotency key, as the API asks them to.
  const accepted = new Map<string, string>();
  let gaveUp = 0;
  const lanes = Array.from({ length: 6 }, async () => {
    for (let start = starts.shift(); start !== undefined; start = starts.shift()) {
      const body = {
        definition: start.definition,
        params: { file: effects, steps: 2, stepMs: 30 },
        idempotencyKey: start.key,
        ...(start.queue === undefined ? {} : { queue: start.queue }),
      };
      let answer: TestResponse | undefined;
      for (let attempt = 0; attempt < 4; attempt += 1) {
        answer = await call("POST", "/v1/tasks", body);
        if (answer.status < 500) break;
      }
      if (answer?.status === 202) accepted.set(start.key, answer.body.taskId);
      else if (answer !== undefined && answer.status >= 500) gaveUp += 1;
      else
        throw new Error(`start ${start.key}: unexpected ${answer?.status} ${JSON.stringify(answer?.body)}`);
    }
  });

  // The outside system calls back on awaiting runs, with faults on too.
  let callbacksDone = false;
  const callbacks = (async () => {
    while (!callbacksDone) {
      const page = await call("GET", "/v1/tasks?status=awaiting&limit=50", undefined);
      for (const task of page.status === 200 ? page.body.items : []) {
        await call(
          "POST",
          "/v1/callbacks",
          { taskId: task.taskId ?? task.id, status: "SUCCESS" },
          stack.runnerKey,
        );
      }
      await pause(300);
    }
  })();
  await Promise.all(lanes);
  // Let the worker, timers and callbacks run under faults for a while longer.
  await pause(8_000);
  const injected = faults.total();
  const callsUnderFaults = faults.calls();
  faults.enabled = false;

  // Recovery: real-time sweeps while anything runs; once nothing does, a sweep from 16 minutes
  // ahead resends the messages whose sends (and whose sweep marks) failed.
  let repaired = 0;
  await waitFor(
    async () => {
      const runs = await storedRuns(stack);
      if (runs.every((run) => TERMINAL.has(run.status))) return runs;
      const report = runs.some((run) => run.status === "running")
        ? await sweepAhead(stack.services, 0)
        : await sweepAhead(stack.services, 16 * 60_000);
      repaired += report.resent + report.requeued + report.ended + report.promoted;
      await pause(1_000);
      return undefined;
    },
    90_000,
    "every run to end after the faults stopped",
  );
  callbacksDone = true;
  await callbacks;

  const runs = await storedRuns(stack);
  const byId = new Map(runs.map((run) => [run.id, run]));
  const lost = [...accepted.values()].filter((id) => !TERMINAL.has(byId.get(id)?.status ?? "missing"));
  const notSucceeded = runs.filter((run) => run.status !== "succeeded");
  const effectsByTask = readEffects(effects);
  const duplicated = effectsAfterRecord(runs, effectsByTask);
  const runsPerKey = new Map<string, number>();
  for (const run of runs) {
    if (run.idempotencyKey !== undefined)
      runsPerKey.set(run.idempotencyKey, (runsPerKey.get(run.idempotencyKey) ?? 0) + 1);
  }
  const counters = await stack.services.counters.get("acme", "limited");

  console.log(
    `injected-errors: seed=${SEED}, rate=${RATE}, runs=${runs.length} (accepted ${accepted.size}, ` +
      `starts given up after 4 tries ${gaveUp}), AWS calls under faults=${callsUnderFaults}, ` +
      `injected faults=${injected} ${JSON.stringify(faults.counts())}, answers=${JSON.stringify(Object.fromEntries(answers))}, ` +
      `runs the sweeper resent, requeued, ended or promoted=${repaired}, lost=${lost.length}, duplicated effects=${duplicated.length}, ` +
      `once fn re-ran before its record=${repeatedCalls(effectsByTask)}, ` +
      `counters=${counters?.running}/${counters?.waiting}, ${Math.round((Date.now() - started) / 1000)} s`,
  );

  expect(badAnswers).toEqual([]);
  expect(injected).toBeGreaterThan(50);
  // Nearly every start must get through its retries, or "nothing lost" would hold of next to nothing.
  expect(accepted.size).toBeGreaterThan(0.9 * (RUNS.plain + RUNS.limited + RUNS.named + RUNS.callback));
  expect(runs.length).toBeGreaterThanOrEqual(accepted.size);
  expect(lost).toEqual([]);
  // Every run in the table, accepted or not (a 500 may follow a start that was applied), ended well.
  expect(notSucceeded.map((run) => `${run.id} ${run.status}`)).toEqual([]);
  expect([...runsPerKey.values()].every((n) => n === 1)).toBe(true);
  for (const run of runs) expect(run.endedAt).toBeDefined();
  // No effect ran again once recorded, and only runs that exist had effects.
  expect(duplicated).toEqual([]);
  expect([...effectsByTask.keys()].every((id) => byId.has(id))).toBe(true);
  expect(runs.every((run) => effectsByTask.has(run.id))).toBe(true);
  expect(counters).toMatchObject({ running: 0, waiting: 0 });
});
