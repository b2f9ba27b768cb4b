/** Definition limits, timeouts, cancel and idempotent starts, through the real handlers on the emulators. */
import { PurgeQueueCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { sweep } from "../../shared/app/sweeper.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3, workerConcurrency: 4 });
});
afterAll(async () => {
  await stack?.stop();
});

const start = (definition: string, extra: Record<string, unknown> = {}) =>
  stack.request("POST", "/v1/tasks", { body: { definition, ...extra } });
const status = async (id: string) => (await stack.request("GET", `/v1/tasks/${id}`)).body;

describe("maxConcurrency and maxQueueLength", () => {
  it("runs a contract generator one at a time in start order; a full line answers queue_full; a cancelled waiting run is skipped", async () => {
    await stack.request("PUT", "/v1/definitions/contracts", {
      body: { handler: "items", maxConcurrency: 1, maxQueueLength: 2 },
    });
    const params = (name: string, stepMs = 400) => ({
      params: { items: [`${name}-1`, `${name}-2`, `${name}-3`], stepMs },
    });
    // 6 s for the first run: it must still hold its slot while the next three starts are
    // answered, even on a slow, busy machine running other test files beside this one.
    const a = await start("contracts", params("a", 2_000));
    const b = await start("contracts", params("b"));
    const c = await start("contracts", params("c"));
    const d = await start("contracts", params("d"));
    expect([a.status, b.status, c.status]).toEqual([202, 202, 202]);
    expect([b.body.status, c.body.status]).toEqual(["waiting", "waiting"]);
    expect(d.status).toBe(429);
    expect(d.body).toMatchObject({ error: "queue_full", message: expect.stringMatching(/maxQueueLength/) });

    const cancelled = await stack.request("POST", `/v1/tasks/${c.body.taskId}/cancel`);
    expect(cancelled.body).toMatchObject({ status: "cancelled", cancelRequested: false });
    const e = await start("contracts", params("e"));
    expect(e.status).toBe(202);

    const runs = await Promise.all([a, b, e].map((r) => waitForEnd(stack, r.body.taskId, 30_000)));
    for (const run of runs) expect(run.status).toBe("succeeded");
    expect(runs.map((r) => r.feedback)).toEqual([
      "created a-1\ncreated a-2\ncreated a-3",
      "created b-1\ncreated b-2\ncreated b-3",
      "created e-1\ncreated e-2\ncreated e-3",
    ]);
    for (let i = 1; i < runs.length; i += 1) {
      expect(runs[i].output.start).toBeGreaterThanOrEqual(runs[i - 1].output.end);
    }
    const skipped = await status(c.body.taskId);
    expect(skipped).toMatchObject({ status: "cancelled", attempts: 0, startedAt: null });
  });

  it("admits exactly maxQueueLength + maxConcurrency of 50 concurrent starts", async () => {
    await stack.request("PUT", "/v1/definitions/burst", {
      body: { handler: "timed", maxConcurrency: 2, maxQueueLength: 10, params: { ms: 20_000 } },
    });
    const answers = await Promise.all(Array.from({ length: 50 }, () => start("burst")));
    const accepted = answers.filter((r) => r.status === 202);
    const refused = answers.filter((r) => r.status === 429);
    expect(accepted).toHaveLength(12);
    expect(refused).toHaveLength(38);
    for (const r of refused) expect(r.body.error).toBe("queue_full");
    const listed = await stack.request("GET", "/v1/tasks?definition=burst&limit=100");
    expect(listed.body.items).toHaveLength(12);
    expect(listed.body.items.filter((t: { status: string }) => t.status === "waiting")).toHaveLength(10);
    // Done with them: cancel all so they do not hold the workers.
    await Promise.all(accepted.map((r) => stack.request("POST", `/v1/tasks/${r.body.taskId}/cancel`)));
  });

  it("applies a raised limit to runs already waiting", async () => {
    await stack.request("PUT", "/v1/definitions/live", {
      // 5 s a run: the limit must be raised while the first still runs, however slow the machine.
      body: { handler: "timed", maxConcurrency: 1, params: { ms: 5_000 } },
    });
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await start("live")).body.taskId);
    expect((await status(ids[2])).status).toBe("waiting");
    await stack.request("PUT", "/v1/definitions/live", {
      body: { handler: "timed", maxConcurrency: 3, params: { ms: 5_000 } },
    });
    expect((await status(ids[2])).status).not.toBe("waiting");
    const ended = await Promise.all(ids.map((id) => waitForEnd(stack, id)));
    const [first, , third] = ended.map((t) => t.output);
    expect(third.start).toBeLessThan(first.end); // ran side by side once the limit rose
  });
});

describe("timeouts", () => {
  it("ends a hung handler timed_out and frees its slot for the next run", async () => {
    await stack.request("PUT", "/v1/definitions/stuck", {
      body: { handler: "hang", maxConcurrency: 1, timeoutSeconds: 1, maxAttempts: 3 },
    });
    await stack.request("PUT", "/v1/definitions/after-stuck", { body: { handler: "echo" } });
    const hung = await start("stuck");
    const next = await start("stuck");
    expect(next.body.status).toBe("waiting");
    const ended = await waitForEnd(stack, hung.body.taskId);
    expect(ended).toMatchObject({ status: "timed_out", attempts: 1, error: { code: "timed_out" } });
    expect(Date.parse(ended.endedAt) - Date.parse(ended.startedAt)).toBeGreaterThanOrEqual(1_000);
    // The freed slot went to the waiting run (which hangs too, and times out in turn).
    const second = await waitForEnd(stack, next.body.taskId);
    expect(second.status).toBe("timed_out");
  });

  it("rejects timeouts a worker Lambda cannot honour", async () => {
    const response = await stack.request("PUT", "/v1/definitions/too-long", {
      body: { handler: "echo", timeoutSeconds: 3_600 },
    });
    expect(response.status).toBe(400);
    expect(response.body.message).toMatch(/15-minute/);
  });
});

describe("cancel", () => {
  it("aborts a running handler's signal, ends it cancelled and gives its slot to the next run", async () => {
    await stack.request("PUT", "/v1/definitions/long", {
      body: { handler: "sleep", maxConcurrency: 1, params: { ms: 30_000, steps: 300 } },
    });
    const running = await start("long");
    const behind = await start("long", { params: { ms: 100, steps: 1 } });
    await waitFor(async () => ((await status(running.body.taskId)).status === "running" ? true : undefined));
    const asked = await stack.request("POST", `/v1/tasks/${running.body.taskId}/cancel`);
    expect(asked.status).toBe(200);
    expect(asked.body).toMatchObject({ status: "running", cancelRequested: true });
    const ended = await waitForEnd(stack, running.body.taskId);
    expect(ended.status).toBe("cancelled");
    expect(ended.progress).toBeLessThan(0.5);
    expect((await waitForEnd(stack, behind.body.taskId)).status).toBe("succeeded");
    const again = await stack.request("POST", `/v1/tasks/${running.body.taskId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error).toBe("conflict");
  });

  it("cancels a queued run before it starts", async () => {
    await stack.request("PUT", "/v1/definitions/cancel-before-start", { body: { handler: "echo" } });
    await stack.stopWorker();
    try {
      const queued = await start("cancel-before-start");
      const cancelled = await stack.request("POST", `/v1/tasks/${queued.body.taskId}/cancel`, {
        key: stack.runnerKey,
      });
      expect(cancelled.body.status).toBe("cancelled");
      stack.startWorker();
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(await status(queued.body.taskId)).toMatchObject({ status: "cancelled", attempts: 0 });
    } finally {
      stack.startWorker();
    }
  });
});

describe("idempotent starts", () => {
  it("returns the same task for the same key and request, and 409 for another request", async () => {
    // Its own definition, so it runs alone and its list below counts only its own runs.
    await stack.request("PUT", "/v1/definitions/idempotent-echo", { body: { handler: "echo" } });
    const body = {
      definition: "idempotent-echo",
      params: { order: 7, lines: [1, 2] },
      idempotencyKey: "order-7",
    };
    const first = await stack.request("POST", "/v1/tasks", { body });
    const reordered = { ...body, params: { lines: [1, 2], order: 7 } };
    const second = await stack.request("POST", "/v1/tasks", { body: reordered });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ taskId: first.body.taskId, idempotentReplay: true });
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () =>
        stack.request("POST", "/v1/tasks", { body: { ...body, idempotencyKey: "order-8" } }),
      ),
    );
    expect(new Set(concurrent.map((r) => r.body.taskId)).size).toBe(1);
    const conflict = await stack.request("POST", "/v1/tasks", { body: { ...body, params: { order: 8 } } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.message).toMatch(/order-7/);
    const listed = await stack.request("GET", "/v1/tasks?definition=idempotent-echo&limit=100");
    const withKey = listed.body.items.filter(
      (t: { idempotencyKey: string | null }) => t.idempotencyKey !== null,
    );
    expect(withKey).toHaveLength(2);
  });
});

describe("the sweeper", () => {
  it("recovers the run of a killed worker whose message was lost", async () => {
    await stack.request("PUT", "/v1/definitions/recoverable", {
      body: { handler: "timed", params: { ms: 100 } },
    });
    await stack.stopWorker();
    const sqs = new SQSClient({
      region: LOCAL_REGION,
      endpoint: stack.endpoints.sqs,
      credentials: LOCAL_CREDENTIALS,
    });
    try {
      const started = await start("recoverable");
      // A worker claims the run and dies at once; then the message is lost as well.
      const now = new Date();
      const ref = { tenant: "acme", id: started.body.taskId };
      await stack.services.runs.claim(ref, {
        now: now.toISOString(),
        leaseUntil: new Date(now.getTime() + 1_000).toISOString(),
      });
      // A claim keeps the sweep time the run got when queued (15 min on); skip ahead to it.
      await stack.services.runs.update(
        ref,
        { status: "running", attempts: 1 },
        { sweepAt: now.toISOString() },
      );
      await sqs.send(new PurgeQueueCommand({ QueueUrl: stack.queueUrls.fair }));
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      stack.startWorker();
      const report = await sweep(stack.services);
      expect(report.requeued).toBe(1);
      const task = await waitForEnd(stack, started.body.taskId);
      expect(task).toMatchObject({ status: "succeeded", attempts: 2 });
      // A second sweep finds nothing more to do.
      expect(await sweep(stack.services)).toMatchObject({ resent: 0, requeued: 0, ended: 0 });
    } finally {
      sqs.destroy();
      stack.startWorker();
    }
  });
});

describe("keys", () => {
  it("lets an admin issue, list and revoke keys; a revoked key gets 401 at once", async () => {
    const issued = await stack.request("POST", "/v1/keys", { body: { role: "runner" } });
    expect(issued.status).toBe(201);
    expect((await stack.request("GET", "/v1/tenant", { key: issued.body.key })).status).toBe(200);
    const listed = await stack.request("GET", "/v1/keys");
    expect(listed.body.items.map((k: { keyId: string }) => k.keyId)).toContain(issued.body.keyId);
    expect(JSON.stringify(listed.body)).not.toContain(issued.body.key);
    expect(
      (await stack.request("POST", "/v1/keys", { key: issued.body.key, body: { role: "admin" } })).status,
    ).toBe(403);
    expect((await stack.request("DELETE", `/v1/keys/${issued.body.keyId}`)).status).toBe(204);
    expect((await stack.request("GET", "/v1/tenant", { key: issued.body.key })).status).toBe(401);
    expect((await stack.request("DELETE", `/v1/keys/${issued.body.keyId}`)).status).toBe(404);
  });
});
