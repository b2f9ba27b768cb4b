/**
 * Whole Baton processes (api and worker) SIGKILLed at random moments, dozens of times, while
 * clients start a few hundred runs through them: every start answered 202 runs and ends once,
 * every run in the table ends (also those whose start was cut off before it was answered), and no
 * once-effect runs again after it was recorded.
 *
 * Replay a failure with BATON_FAULT_SEED=<seed printed below>.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { seededRandom } from "../support/fault-injector.ts";
import { startTestStack, type TestStack, waitFor } from "../support/stack.ts";
import { bundleStackProcess, type ChildStack, killChild, spawnChildStack } from "./child-stacks.ts";
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
const RUNS = 180;
const KILLS = 24;
const PROCESSES = 4;
const LEASE_SECONDS = 3;

let stack: TestStack;
const children: ChildStack[] = [];

beforeAll(async () => {
  // This process only reads and sweeps; the children serve the API and run the worker.
  stack = await startTestStack({ runWorker: false });
  const common = { handler: "once-effect", maxAttempts: 10 };
  await stack.request("PUT", "/v1/definitions/plain", { body: common });
  await stack.request("PUT", "/v1/definitions/limited", { body: { ...common, maxConcurrency: 3 } });
  await bundleStackProcess();
});
afterAll(async () => {
  await Promise.all(children.map(killChild));
  await stack?.stop();
});

it("ends every accepted run once, and repeats no recorded effect, with processes SIGKILLed at random", {
  timeout: 240_000,
}, async () => {
  const started = Date.now();
  const random = seededRandom(SEED);
  const effects = join(mkdtempSync(join(tmpdir(), "baton-kills-")), "effects.log");
  for (let i = 0; i < PROCESSES; i += 1) children.push(spawnChildStack(stack, LEASE_SECONDS));

  const readyChild = async (): Promise<string> =>
    waitFor(
      async () => {
        const ready = children.filter((child) => child.url !== undefined && !child.dead);
        return ready[Math.floor(random() * ready.length)]?.url;
      },
      60_000,
      "a live Baton process",
    );

  // Clients: paced starts through whichever process is alive.
  const accepted = new Set<string>();
  let unanswered = 0;
  let next = 0;
  const lanes = Array.from({ length: 6 }, async () => {
    while (next < RUNS) {
      const n = next;
      next += 1;
      const body = {
        definition: n % 3 === 0 ? "limited" : "plain",
        params: { file: effects, steps: 5, stepMs: 150 },
        // A client whose start was cut off tries again with the same key, as the API asks.
        idempotencyKey: `start-${n}`,
        ...(n % 5 === 0 ? { queue: `line-${n % 2}` } : {}),
      };
      for (let attempt = 1; ; attempt += 1) {
        const url = await readyChild();
        try {
          const response = await fetch(`${url}/v1/tasks`, {
            method: "POST",
            headers: { authorization: `Bearer ${stack.runnerKey}`, "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          const answer = (await response.json()) as { taskId: string };
          if (response.status !== 202) {
            throw new Error(`start answered ${response.status} ${JSON.stringify(answer)}`);
          }
          accepted.add(answer.taskId);
          break;
        } catch (error) {
          // Killed before it answered: the start may or may not have been written.
          if (String(error).includes("start answered") || attempt === 100) throw error;
          unanswered += 1;
          await pause(100);
        }
      }
      await pause(20 + random() * 60);
    }
  });

  // The killer: SIGKILL a live process at a random moment, start a new one in its place.
  let kills = 0;
  const killer = (async () => {
    while (kills < KILLS) {
      await pause(300 + random() * 600);
      const live = children
        .map((child, slot) => ({ child, slot }))
        .filter(({ child }) => child.url !== undefined);
      const victim = live[Math.floor(random() * live.length)];
      if (victim === undefined) continue;
      await killChild(victim.child);
      kills += 1;
      children[victim.slot] = spawnChildStack(stack, LEASE_SECONDS);
    }
  })();
  await Promise.all([...lanes, killer]);
  const killPhaseSeconds = Math.round((Date.now() - started) / 1000);

  // No more kills. The survivors finish the work; runs whose process died between writing and
  // sending are resent by a sweep from 16 minutes ahead, once nothing is running.
  let repaired = 0;
  const stuck = async () =>
    (await storedRuns(stack))
      .filter((run) => !TERMINAL.has(run.status))
      .map((run) => `${run.id} ${run.definition} ${run.status} attempts=${run.attempts}`);
  await waitFor(
    async () => {
      const runs = await storedRuns(stack);
      if (runs.length >= accepted.size && runs.every((run) => TERMINAL.has(run.status))) return runs;
      const report = runs.some((run) => run.status === "running")
        ? await sweepAhead(stack.services, 0)
        : await sweepAhead(stack.services, 16 * 60_000);
      repaired += report.resent + report.requeued + report.ended + report.promoted;
      await pause(1_000);
      return undefined;
    },
    120_000,
    "every run to end after the kills stopped",
  ).catch(async (error: unknown) => {
    throw new Error(`${String(error)}; seed=${SEED}; not ended: ${(await stuck()).join(", ")}`);
  });
  // Ended means ended: another sweep and a pause later, nothing has moved.
  const ended = await storedRuns(stack);
  await sweepAhead(stack.services, 0);
  await pause(LEASE_SECONDS * 1000);
  const runs = await storedRuns(stack);

  const byId = new Map(runs.map((run) => [run.id, run]));
  const lost = [...accepted].filter((id) => byId.get(id)?.status !== "succeeded");
  const effectsByTask = readEffects(effects);
  const duplicated = effectsAfterRecord(runs, effectsByTask);
  const retried = runs.filter((run) => run.attempts > 1).length;
  const counters = await stack.services.counters.get("acme", "limited");
  console.log(
    `sigkill-loop: seed=${SEED}, runs=${runs.length} (accepted ${accepted.size}, start requests cut off by a kill and retried ${unanswered}), ` +
      `kills=${kills} over ${killPhaseSeconds} s, runs retried after a kill=${retried}, runs the sweeper resent, requeued, ended or promoted=${repaired}, lost=${lost.length}, ` +
      `duplicated effects=${duplicated.length}, once fn re-ran before its record=${repeatedCalls(effectsByTask)}, ` +
      `counters=${counters?.running}/${counters?.waiting}, ${Math.round((Date.now() - started) / 1000)} s`,
  );

  expect(kills).toBe(KILLS);
  expect(lost).toEqual([]);
  expect(runs.filter((run) => run.status !== "succeeded").map((run) => `${run.id} ${run.status}`)).toEqual(
    [],
  );
  expect(runs.map((run) => [run.id, run.status, run.endedAt])).toEqual(
    ended.map((run) => [run.id, run.status, run.endedAt]),
  );
  expect(duplicated).toEqual([]);
  expect(runs.every((run) => effectsByTask.has(run.id))).toBe(true);
  expect(counters).toMatchObject({ running: 0, waiting: 0 });
});
