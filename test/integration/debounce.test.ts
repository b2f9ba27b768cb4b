/**
 * Debounced starts (issue #16.4) through the real API, engine and stores on the emulators. Windows
 * are long (a minute), so every start a test makes falls inside its window however slow the
 * machine; the window closes when a test says so, through the engine with a clock moved on (as a
 * timer firing later would), never by waiting.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTriggerHandler } from "../../functions/trigger/handler.ts";
import { startDue } from "../../shared/app/engine.ts";
import type { TenantPrincipal } from "../../shared/app/identity.ts";
import type { Services } from "../../shared/app/services.ts";
import { startTask } from "../../shared/app/tasks.ts";
import type { RunRef } from "../../shared/core/run.ts";
import { startTestStack, type TestStack, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3 });
  for (const name of ["trail", "lead", "capped", "race"]) {
    await stack.request("PUT", `/v1/definitions/${name}`, { body: { handler: "echo" } });
  }
});
afterAll(async () => {
  await stack?.stop();
});

const MINUTE = 60_000;
const caller: TenantPrincipal = { kind: "tenant", tenant: "acme", role: "admin", keyId: "debounce-test" };
const start = (definition: string, body: Record<string, unknown>, key?: string) =>
  stack.request("POST", "/v1/tasks", {
    ...(key === undefined ? {} : { key }),
    body: { definition, ...body },
  });
const read = async (id: string) => (await stack.request("GET", `/v1/tasks/${id}`)).body;
/** The stack's services with the clock at `base + ms` (a timer firing, or a start arriving, then). */
const at = (base: number, ms: number): Services => ({
  ...stack.services,
  clock: { now: () => new Date(base + ms) },
});
const runsOf = async (definition: string) =>
  (await stack.request("GET", `/v1/tasks?definition=${definition}&limit=100`)).body.items as Array<{
    taskId: string;
  }>;

describe("debounce, trailing (the default)", () => {
  it("collapses quick starts into one scheduled run with the last start's params, started once the window closes", async () => {
    const debounce = { key: "page-42", delayMs: MINUTE };
    const answers = [];
    answers.push(await start("trail", { params: { n: 1 }, debounce }));
    // Bulky params (kept beside the run's item) in between, then small ones again.
    const bulky = { n: 2, pad: "x".repeat(500) };
    answers.push(await start("trail", { params: bulky, debounce }));
    expect((await read(answers[0]?.body.taskId)).params).toEqual(bulky);
    answers.push(await start("trail", { params: { n: 3 }, debounce }));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202]);
    const [first, ...later] = answers.map((a) => a.body);
    expect(first).toEqual({ taskId: expect.any(String), status: "scheduled", debounced: true });
    for (const answer of later) {
      expect(answer).toEqual({ taskId: first.taskId, status: "scheduled", debounced: true, joined: true });
    }
    const scheduled = await read(first.taskId);
    expect(scheduled).toMatchObject({ status: "scheduled", params: { n: 3 } });
    // delayMs after the last start, not the first.
    expect(Date.parse(scheduled.scheduledFor)).toBeGreaterThanOrEqual(
      Date.parse(scheduled.updatedAt) + MINUTE,
    );
    expect(await runsOf("trail")).toHaveLength(1);

    // Its first timer fires before the moved due time: set again for then, the message acked.
    const armed: Array<{ ref: RunRef; at: Date }> = [];
    const recording: Services = {
      ...stack.services,
      timer: {
        async scheduleStart(ref, when) {
          armed.push({ ref: { tenant: ref.tenant, id: ref.id }, at: when });
        },
        async cancelStart() {},
      },
    };
    const body = JSON.stringify({ kind: "start", tenant: "acme", runId: first.taskId });
    expect(await createTriggerHandler(recording)({ Records: [{ messageId: "m1", body }] })).toEqual({
      batchItemFailures: [],
    });
    expect(armed).toEqual([
      { ref: { tenant: "acme", id: first.taskId }, at: new Date(scheduled.scheduledFor) },
    ]);
    expect((await read(first.taskId)).status).toBe("scheduled");

    // The window closes: the run starts with the last params, once, however often its timer fires.
    const later2 = at(Date.now(), 2 * MINUTE);
    const ref = { tenant: "acme", id: first.taskId };
    const outcomes = await Promise.all([startDue(later2, ref), startDue(later2, ref)]);
    expect(outcomes.sort()).toEqual(["not_scheduled", "queued"]);
    expect(await waitForEnd(stack, first.taskId)).toMatchObject({
      status: "succeeded",
      attempts: 1,
      output: { n: 3 },
    });

    // A start after the run started opens a new window: a new run.
    const next = await start("trail", { params: { n: 4 }, debounce });
    expect(next.body).toMatchObject({ status: "scheduled", debounced: true });
    expect(next.body.joined).toBeUndefined();
    expect(next.body.taskId).not.toBe(first.taskId);
    expect(await runsOf("trail")).toHaveLength(2);
    await stack.request("POST", `/v1/tasks/${next.body.taskId}/cancel`);
    // A cancelled window's run is closed too.
    const afterCancel = await start("trail", { params: { n: 5 }, debounce });
    expect(afterCancel.body.taskId).not.toBe(next.body.taskId);
    await stack.request("POST", `/v1/tasks/${afterCancel.body.taskId}/cancel`);
  });

  it("starts no later than maxDelayMs after the first start, however many starts join", async () => {
    const base = Date.now();
    const debounce = { key: "burst", delayMs: MINUTE, maxDelayMs: 90_000 };
    const first = await startTask(at(base, 0), caller, { definition: "capped", params: { n: 1 }, debounce });
    const due = async () => Date.parse((await read(first.run.id)).scheduledFor) - base;
    expect(await due()).toBe(MINUTE);
    const joined = await startTask(at(base, 20_000), caller, {
      definition: "capped",
      params: { n: 2 },
      debounce,
    });
    expect(joined).toMatchObject({ created: false, debounced: "joined", run: { id: first.run.id } });
    expect(await due()).toBe(80_000);
    await startTask(at(base, 50_000), caller, { definition: "capped", params: { n: 3 }, debounce });
    expect(await due()).toBe(90_000); // not 110 s: the cap
    await startTask(at(base, 85_000), caller, { definition: "capped", params: { n: 4 }, debounce });
    expect(await due()).toBe(90_000);
    expect(await startDue(at(base, 90_000), { tenant: "acme", id: first.run.id })).toBe("queued");
    expect(await waitForEnd(stack, first.run.id)).toMatchObject({ status: "succeeded", output: { n: 4 } });
    expect(await runsOf("capped")).toHaveLength(1);
  });

  it("never loses a start that arrives as the window closes, and never runs a window twice", async () => {
    const base = Date.now();
    for (let round = 0; round < 4; round += 1) {
      const debounce = { key: `race-${round}`, delayMs: MINUTE };
      const first = await startTask(at(base, 0), caller, {
        definition: "race",
        params: { round, n: "first" },
        debounce,
      });
      // The due time's start and a late start, at once.
      const closing = at(base, 2 * MINUTE);
      const [, late] = await Promise.all([
        startDue(closing, first.run),
        startTask(closing, caller, { definition: "race", params: { round, n: "late" }, debounce }),
      ]);
      // Whatever is still scheduled falls due later still.
      for (const id of new Set([first.run.id, late.run.id])) {
        await startDue(at(base, 10 * MINUTE), { tenant: "acme", id });
      }
      const ended = await Promise.all(
        [...new Set([first.run.id, late.run.id])].map((id) => waitForEnd(stack, id)),
      );
      for (const run of ended) expect(run).toMatchObject({ status: "succeeded", attempts: 1 });
      // The late start's params ran exactly once: in the window's run (it joined in time) or in a run of its own.
      const outputs = ended.map((run) => run.output.n);
      expect(
        outputs.filter((n) => n === "late"),
        `round ${round}: ${outputs}`,
      ).toHaveLength(1);
      if (late.debounced === "joined") expect(ended).toHaveLength(1);
      else expect(outputs.sort()).toEqual(["first", "late"]);
    }
  });
});

describe("debounce, leading", () => {
  it("runs the first start at once and answers its run to the others inside delayMs; a start after the window runs anew", async () => {
    const debounce = { key: "signup-7", delayMs: MINUTE, mode: "leading" as const };
    const first = await start("lead", { params: { n: 1 }, debounce });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ taskId: expect.any(String), status: "queued", debounced: true });
    const second = await start("lead", { params: { n: 2 }, debounce });
    expect(second.body).toMatchObject({ taskId: first.body.taskId, debounced: true, joined: true });
    expect(await waitForEnd(stack, first.body.taskId)).toMatchObject({
      status: "succeeded",
      output: { n: 1 },
    });
    const third = await start("lead", { params: { n: 3 }, debounce });
    expect(third.body).toMatchObject({ taskId: first.body.taskId, status: "succeeded", joined: true });

    // Past the window: a new run, and a new window that the next start joins.
    const past = Date.now() + 2 * MINUTE;
    const fresh = await startTask(at(past, 0), caller, { definition: "lead", params: { n: 4 }, debounce });
    expect(fresh).toMatchObject({ created: true, debounced: "opened" });
    expect(fresh.run.id).not.toBe(first.body.taskId);
    const again = await startTask(at(past, 1_000), caller, {
      definition: "lead",
      params: { n: 5 },
      debounce,
    });
    expect(again).toMatchObject({ created: false, debounced: "joined", run: { id: fresh.run.id } });
    expect(await waitForEnd(stack, fresh.run.id)).toMatchObject({ status: "succeeded", output: { n: 4 } });
  });
});

describe("debounce, boundaries", () => {
  it("keeps each tenant's windows to itself", async () => {
    await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "umbrella" } });
    const theirKey = (
      await stack.request("POST", "/v1/tenants/umbrella/keys", {
        key: stack.rootKey,
        body: { role: "admin" },
      })
    ).body.key as string;
    await stack.request("PUT", "/v1/definitions/trail", { key: theirKey, body: { handler: "echo" } });
    const debounce = { key: "shared-name", delayMs: MINUTE };
    const ours = await start("trail", { params: { who: "acme" }, debounce });
    const theirs = await start("trail", { params: { who: "umbrella" }, debounce }, theirKey);
    expect(theirs.body).toMatchObject({ status: "scheduled", debounced: true });
    expect(theirs.body.joined).toBeUndefined();
    expect(theirs.body.taskId).not.toBe(ours.body.taskId);
    expect((await read(ours.body.taskId)).params).toEqual({ who: "acme" });
    await stack.request("POST", `/v1/tasks/${ours.body.taskId}/cancel`);
    await stack.request("POST", `/v1/tasks/${theirs.body.taskId}/cancel`, { key: theirKey });
  });

  it.each([
    ["a zero delay", { debounce: { key: "k", delayMs: 0 } }, /delayMs/],
    ["a window over 15 minutes", { debounce: { key: "k", delayMs: 900_001 } }, /delayMs/],
    ["maxDelayMs below delayMs", { debounce: { key: "k", delayMs: 5_000, maxDelayMs: 1_000 } }, /maxDelayMs/],
    [
      "maxDelayMs on a leading window",
      { debounce: { key: "k", delayMs: 5, mode: "leading", maxDelayMs: 10 } },
      /leading/,
    ],
    ["a key with a #", { debounce: { key: "a#b", delayMs: 5 } }, /key/],
    ["a key over 128 characters", { debounce: { key: "k".repeat(129), delayMs: 5 } }, /key/],
    ["an unknown mode", { debounce: { key: "k", delayMs: 5, mode: "sideways" } }, /mode/],
    ["an unknown field", { debounce: { key: "k", delayMs: 5, wait: 1 } }, /wait/],
    ["a time of its own", { debounce: { key: "k", delayMs: 5 }, after: 1_000 }, /"at" and "after"/],
    ["an idempotency key", { debounce: { key: "k", delayMs: 5 }, idempotencyKey: "i" }, /idempotencyKey/],
  ])("refuses %s with 400", async (_what, body, message) => {
    const answer = await start("trail", body);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(message);
  });
});
