/** Callback-mode runs: awaiting, progress callbacks, the one final callback that wins, deadlines; subtext. */
import { describe, expect, it } from "vitest";
import { applyCallback, setSubtext } from "../../../shared/app/callbacks.ts";
import { sweep } from "../../../shared/app/sweeper.ts";
import { ConflictError, NotFoundError, UnauthorizedError } from "../../../shared/core/errors.ts";
import { handedOutToken } from "../../support/callback-token.ts";
import { type AppHarness, appHarness } from "../../support/memory-app.ts";

/** Starts a callback-mode run and lets its handler hand out its token; returns the run id and token. */
async function awaitingRun(
  h: AppHarness,
  options: { callbackTimeoutSeconds?: number; maxConcurrency?: number } = {},
) {
  await h.define("cb", { handler: "await-callback", mode: "callback", ...options });
  const run = await h.start({ definition: "cb", params: { order: 7 } });
  await h.drain();
  const stored = await h.run(run.id);
  expect(stored.logs.map((l) => l.line).join("\n")).not.toContain("callbackToken");
  const token = await handedOutToken(run.id);
  if (token === undefined) throw new Error("the handler handed out no token");
  return { id: run.id, token };
}

const key = { kind: "key", tenant: "acme" } as const;

describe("callback-mode runs", () => {
  it("wait as awaiting after the handler returns, holding their slot, with the handler's output kept", async () => {
    const h = appHarness();
    const { id } = await awaitingRun(h, { maxConcurrency: 1 });
    const run = await h.run(id);
    expect(run).toMatchObject({
      status: "awaiting",
      output: { requested: { order: 7 } },
      callbackDeadline: "2026-01-02T00:00:00.000Z",
      slot: true,
    });
    expect(run.callbackTokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await h.start({ definition: "cb" })).status).toBe("waiting");
  });

  it("take progress callbacks (logs, merged output, subtext) and keep awaiting", async () => {
    const h = appHarness();
    const { id, token } = await awaitingRun(h);
    h.clock.advance(5_000);
    const updated = await applyCallback(
      h.svc,
      { kind: "token", tenant: "acme", token },
      { taskId: id, logs: "step 1\nstep 2\n", output: { progress: "half" }, subtext: "halfway" },
    );
    expect(updated).toMatchObject({
      status: "awaiting",
      output: { requested: { order: 7 }, progress: "half" },
      subtext: "halfway",
    });
    expect(updated.logs.slice(-2)).toEqual([
      { at: "2026-01-01T00:00:05.000Z", line: "step 1" },
      { at: "2026-01-01T00:00:05.000Z", line: "step 2" },
    ]);
  });

  it("end on the first final callback; a second one, SUCCESS or FAILURE, is a 409 that changes nothing", async () => {
    const h = appHarness();
    const { id, token } = await awaitingRun(h, { maxConcurrency: 1 });
    const waiting = await h.start({ definition: "cb" });
    const [first, second] = await Promise.allSettled([
      applyCallback(
        h.svc,
        { kind: "token", tenant: "acme", token },
        { taskId: id, status: "SUCCESS", output: { a: 1 } },
      ),
      applyCallback(h.svc, key, { taskId: id, status: "FAILURE", subtext: "nope" }),
    ]);
    expect(first).toMatchObject({ status: "fulfilled", value: { status: "succeeded", output: { a: 1 } } });
    expect(second).toMatchObject({ status: "rejected", reason: expect.any(ConflictError) });
    const ended = await h.run(id);
    expect(ended).toMatchObject({ status: "succeeded", output: { requested: { order: 7 }, a: 1 } });
    expect(ended.subtext).toBeUndefined();
    // The token is spent by the write that ended the run: a replay is a 401, not a 409.
    expect(ended.callbackTokenHash).toBeUndefined();
    const replayed = applyCallback(
      h.svc,
      { kind: "token", tenant: "acme", token },
      { taskId: id, status: "SUCCESS" },
    );
    await expect(replayed).rejects.toBeInstanceOf(UnauthorizedError);
    // It says a token may be spent, and the same for a run that never existed: nothing about this run.
    const spent = await replayed.catch((error: Error) => error.message);
    expect(spent).toMatch(/spent/);
    const missing = await applyCallback(
      h.svc,
      { kind: "token", tenant: "acme", token },
      { taskId: "no-such-run", status: "SUCCESS" },
    ).catch((error: Error) => error.message);
    expect(missing).toBe(spent);
    expect(h.metrics.total("RunsSucceeded")).toBe(1);
    // The slot went to the run waiting for it.
    expect((await h.run(waiting.id)).status).toBe("queued");
  });

  it("end failed on a FAILURE callback, with its subtext as the error", async () => {
    const h = appHarness();
    const { id } = await awaitingRun(h);
    await applyCallback(h.svc, key, { taskId: id, status: "FAILURE", subtext: "card declined" });
    expect(await h.run(id)).toMatchObject({
      status: "failed",
      error: { code: "callback_failure", message: "card declined" },
    });
  });

  it("refuse a token of another run, an unknown task, and another tenant's key", async () => {
    const h = appHarness();
    const first = await awaitingRun(h);
    const second = await awaitingRun(h);
    await expect(
      applyCallback(
        h.svc,
        { kind: "token", tenant: "acme", token: first.token },
        { taskId: second.id, status: "SUCCESS" },
      ),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(applyCallback(h.svc, key, { taskId: "nope", status: "SUCCESS" })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(
      applyCallback(h.svc, { kind: "key", tenant: "globex" }, { taskId: first.id, status: "SUCCESS" }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect((await h.run(second.id)).status).toBe("awaiting");
  });

  it("refuse callbacks to a run that is not awaiting", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    const run = await h.start({ definition: "echo" });
    await expect(applyCallback(h.svc, key, { taskId: run.id, status: "SUCCESS" })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await h.run(run.id)).status).toBe("queued");
  });

  it("time out at their callback deadline: a late callback is refused, and the sweeper ends those nobody calls", async () => {
    const h = appHarness();
    const late = await awaitingRun(h, { callbackTimeoutSeconds: 60 });
    const silent = await awaitingRun(h, { callbackTimeoutSeconds: 60 });
    h.clock.advance(60_000);
    await expect(applyCallback(h.svc, key, { taskId: late.id, status: "SUCCESS" })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect(await h.run(late.id)).toMatchObject({
      status: "timed_out",
      error: { code: "callback_timed_out" },
    });
    expect((await h.run(silent.id)).status).toBe("awaiting");
    expect((await sweep(h.svc)).ended).toBe(1);
    expect(await h.run(silent.id)).toMatchObject({
      status: "timed_out",
      error: { code: "callback_timed_out" },
    });
    expect(h.metrics.total("RunsTimedOut")).toBe(2);
  });
});

describe("setSubtext", () => {
  it("sets a run's subtext whatever its status, within its tenant only", async () => {
    const h = appHarness();
    await h.define("echo", { handler: "echo" });
    const run = await h.start({ definition: "echo" });
    await h.drain();
    expect(await setSubtext(h.svc, "acme", run.id, "checked by Ada")).toMatchObject({
      status: "succeeded",
      subtext: "checked by Ada",
    });
    await expect(setSubtext(h.svc, "globex", run.id, "x")).rejects.toBeInstanceOf(NotFoundError);
  });
});
