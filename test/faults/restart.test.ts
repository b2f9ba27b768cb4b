/**
 * The whole Baton process (api, worker, timers) SIGKILLed with runs in every unfinished state,
 * then a new one started on the same tables and queue, as a redeploy or a crashed `npm run dev`
 * would: nothing is lost, everything resumes. The emulators stand for AWS and stay up
 * (test/integration/restart.test.ts restarts them too, from their data folder).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startTestStack, type TestStack, waitFor } from "../support/stack.ts";
import { bundleStackProcess, type ChildStack, killChild, spawnChildStack } from "./child-stacks.ts";
import { effectsAfterRecord, pause, readEffects, storedRuns, sweepAhead } from "./support.ts";

let first: TestStack;
let second: TestStack | undefined;
let child: ChildStack | undefined;

beforeAll(async () => {
  // Sets up tenants and definitions and reads the tables; runs nothing itself.
  first = await startTestStack({ runWorker: false, timerIntervalMs: 0 });
  const common = { handler: "once-effect", maxAttempts: 5 };
  await first.request("PUT", "/v1/definitions/work", { body: common });
  await first.request("PUT", "/v1/definitions/limited", { body: { ...common, maxConcurrency: 1 } });
  await first.request("PUT", "/v1/definitions/callback", {
    body: { ...common, mode: "callback", callbackTimeoutSeconds: 3600 },
  });
  await bundleStackProcess();
});
afterAll(async () => {
  if (child !== undefined) await killChild(child);
  await second?.stop();
  await first?.stop();
});

it("resumes scheduled, waiting, queued, running and awaiting runs after the process is killed", {
  timeout: 180_000,
}, async () => {
  const started = Date.now();
  const effects = join(mkdtempSync(join(tmpdir(), "baton-restart-")), "effects.log");
  child = spawnChildStack(first, 3);
  const url = await child.ready;
  if (url === undefined) throw new Error("the Baton process died while starting");
  const start = async (body: Record<string, unknown>): Promise<string> => {
    const response = await fetch(`${url}/v1/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${first.runnerKey}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { taskId: string }).taskId;
  };
  // 12 s: the long runs must still be running when the last of the six states is reached, on a
  // machine running another test file beside this one.
  const long = { file: effects, steps: 60, stepMs: 200 };
  const quick = { file: effects, steps: 1, stepMs: 10 };
  const ids = {
    limitedRunning: await start({ definition: "limited", params: long }),
    limitedWaiting: await start({ definition: "limited", params: quick }),
    running: await start({ definition: "work", params: long, queue: "line" }),
    queued: await start({ definition: "work", params: quick, queue: "line" }),
    awaiting: await start({ definition: "callback", params: quick }),
    scheduled: await start({ definition: "work", params: quick, after: 15_000 }),
  };
  const expected = {
    limitedRunning: "running",
    limitedWaiting: "waiting",
    running: "running",
    queued: "queued",
    awaiting: "awaiting",
    scheduled: "scheduled",
  } as const;
  const statusOf = async (id: string) => (await first.services.runs.get({ tenant: "acme", id }))?.status;
  await waitFor(
    async () => {
      for (const [name, id] of Object.entries(ids)) {
        if ((await statusOf(id)) !== expected[name as keyof typeof ids]) return undefined;
      }
      return true;
    },
    30_000,
    "runs in every unfinished state",
  );
  const scheduledFor = (await first.services.runs.get({ tenant: "acme", id: ids.scheduled }))?.scheduledFor;

  await killChild(child);
  child = undefined;
  const killedAt = Date.now();

  // The new process: same prefix, so the same tables and queue.
  second = await startTestStack({ prefix: first.prefix, leaseSeconds: 3 });
  const restarted = second;
  const callback = await restarted.request("POST", "/v1/callbacks", {
    key: restarted.runnerKey,
    body: { taskId: ids.awaiting, status: "SUCCESS", output: { answered: "after the restart" } },
  });
  expect(callback.status).toBe(200);

  const runs = await waitFor(
    async () => {
      const stored = await storedRuns(restarted);
      if (stored.every((run) => run.status === "succeeded")) return stored;
      // The sweeper runs every minute in production; here, every second.
      await sweepAhead(restarted.services, 0);
      await pause(1_000);
      return undefined;
    },
    90_000,
    "every run to succeed after the restart",
  );
  const byId = new Map(runs.map((run) => [run.id, run]));
  const scheduledRun = await restarted.services.runs.get({ tenant: "acme", id: ids.scheduled });
  const counters = await restarted.services.counters.get("acme", "limited");
  const duplicated = effectsAfterRecord(runs, readEffects(effects));
  console.log(
    `restart: runs=${runs.length} (${Object.keys(ids).join(", ")}), lost=0, ` +
      `retried after the kill=${runs.filter((run) => run.attempts > 1).length}, ` +
      `duplicated effects=${duplicated.length}, resumed in ${Math.round((Date.now() - killedAt) / 1000)} s, ` +
      `${Math.round((Date.now() - started) / 1000)} s`,
  );

  expect(runs.length).toBe(Object.keys(ids).length);
  for (const id of Object.values(ids)) expect(byId.get(id)?.status).toBe("succeeded");
  // The runs the kill interrupted were taken up again as a second attempt.
  expect(byId.get(ids.running)?.attempts).toBe(2);
  expect(byId.get(ids.limitedRunning)?.attempts).toBe(2);
  // The delayed start fired at its time, from the new process.
  expect(Date.parse(scheduledRun?.startedAt ?? "")).toBeGreaterThanOrEqual(
    Date.parse(scheduledFor ?? "") - 1_000,
  );
  expect((await restarted.request("GET", `/v1/tasks/${ids.awaiting}`)).body.output).toMatchObject({
    answered: "after the restart",
  });
  expect(duplicated).toEqual([]);
  expect(counters).toMatchObject({ running: 0, waiting: 0 });
});
