/**
 * Priority (issue #16.3) through the real API and worker on the emulators: a definition's line and
 * a tenant's line promote the highest priority first, then in start order; a definition's default
 * applies when a start gives none; a named queue refuses a priority (strict FIFO stays).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3, workerConcurrency: 4 });
});
afterAll(async () => {
  await stack?.stop();
});

/** `items` steps of `stepMs` each; a long one holds its slot until cancelled (it stops at its signal). */
const work = (steps: number, stepMs = 300) => ({
  params: { items: Array.from({ length: steps }, (_, i) => `item-${i}`), stepMs },
});

async function startOf(
  definition: string,
  extra: Record<string, unknown>,
  key?: string,
): Promise<{ taskId: string; status: string }> {
  const answer = await stack.request("POST", "/v1/tasks", {
    ...(key === undefined ? {} : { key }),
    body: { definition, ...extra },
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(202);
  return answer.body;
}

/** A run once it has ended, read with `key` (acme's admin by default). */
async function endOf(taskId: string, key?: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { body } = await stack.request("GET", `/v1/tasks/${taskId}`, key === undefined ? {} : { key });
    if (["succeeded", "failed", "cancelled", "timed_out"].includes(body.status)) return body;
    if (Date.now() > deadline) throw new Error(`${taskId} still ${body.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The runs' ids in the order their handlers started, once all have succeeded. */
async function startOrder(ids: string[], key?: string): Promise<string[]> {
  const ended = [];
  for (const id of ids) ended.push(await endOf(id, key));
  for (const run of ended) expect(run.status).toBe("succeeded");
  return ended
    .sort((a, b) => (a.output as { start: number }).start - (b.output as { start: number }).start)
    .map((run) => String(run.taskId));
}

describe("priority", () => {
  it("promotes a limited definition's waiting runs by priority, then start order; the definition's default applies", async () => {
    const put = await stack.request("PUT", "/v1/definitions/reports", {
      body: { handler: "items", maxConcurrency: 1, priority: 2 },
    });
    expect(put.status).toBeLessThan(300);
    expect(put.body).toMatchObject({ priority: 2 });
    const blocker = await startOf("reports", work(200));
    expect(blocker.status).toBe("queued");
    const low = await startOf("reports", { ...work(1, 50), priority: 0 });
    const byDefault = await startOf("reports", work(1, 50)); // the definition's 2
    const high = await startOf("reports", { ...work(1, 50), priority: 7 });
    const lowLater = await startOf("reports", { ...work(1, 50), priority: 0 });
    const top = await startOf("reports", { ...work(1, 50), priority: 9 });
    const highLater = await startOf("reports", { ...work(1, 50), priority: 7 });
    const waiting = [low, byDefault, high, lowLater, top, highLater];
    expect(waiting.map((s) => s.status)).toEqual(Array(6).fill("waiting"));
    const shown = await stack.request("GET", `/v1/tasks/${byDefault.taskId}`);
    expect(shown.body).toMatchObject({ priority: 2, status: "waiting" });

    // The blocker ends: its slot passes down the line, one run at a time.
    expect((await stack.request("POST", `/v1/tasks/${blocker.taskId}/cancel`)).status).toBe(200);
    expect((await waitForEnd(stack, blocker.taskId)).status).toBe("cancelled");
    expect(await startOrder(waiting.map((s) => s.taskId))).toEqual(
      [top, high, highLater, byDefault, low, lowLater].map((s) => s.taskId),
    );
  });

  it("promotes a capped tenant's line by priority across its definitions, and never past another tenant's runs", async () => {
    await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "initech" } });
    const key = (
      await stack.request("POST", "/v1/tenants/initech/keys", { key: stack.rootKey, body: { role: "admin" } })
    ).body.key as string;
    for (const name of ["alpha", "beta"]) {
      const put = await stack.request("PUT", `/v1/definitions/${name}`, { key, body: { handler: "items" } });
      expect(put.status).toBeLessThan(300);
    }
    const capped = await stack.request("PUT", "/v1/tenants/initech/limits", {
      key: stack.rootKey,
      body: { maxConcurrency: 1 },
    });
    expect(capped.status).toBe(200);
    const blocker = await startOf("alpha", work(200), key);
    expect(blocker.status).toBe("queued");
    const a0 = await startOf("alpha", { ...work(1, 50) }, key);
    const b5 = await startOf("beta", { ...work(1, 50), priority: 5 }, key);
    const a9 = await startOf("alpha", { ...work(1, 50), priority: 9 }, key);
    const b0 = await startOf("beta", { ...work(1, 50) }, key);
    const waiting = [a0, b5, a9, b0];
    expect(waiting.map((s) => s.status)).toEqual(Array(4).fill("waiting"));

    // Another tenant's top-priority runs change nothing in initech's line, nor wait behind it.
    await stack.request("PUT", "/v1/definitions/digest", { body: { handler: "items" } });
    const theirs = await startOf("digest", { ...work(1, 50), priority: 9 });
    expect((await waitForEnd(stack, theirs.taskId, 30_000)).status).toBe("succeeded");
    for (const s of waiting) {
      expect((await stack.request("GET", `/v1/tasks/${s.taskId}`, { key })).body.status).toBe("waiting");
    }
    // Nor can they read or reorder initech's runs.
    expect((await stack.request("GET", `/v1/tasks/${a9.taskId}`)).status).toBe(404);

    expect((await stack.request("POST", `/v1/tasks/${blocker.taskId}/cancel`, { key })).status).toBe(200);
    expect(
      await startOrder(
        waiting.map((s) => s.taskId),
        key,
      ),
    ).toEqual([a9, b5, a0, b0].map((s) => s.taskId));
    await stack.request("PUT", "/v1/tenants/initech/limits", { key: stack.rootKey, body: {} });
  });

  it("keeps a named queue in strict FIFO order: a priority there is refused, a definition's default does not apply", async () => {
    await stack.request("PUT", "/v1/definitions/exports", { body: { handler: "items", priority: 4 } });
    const refused = await stack.request("POST", "/v1/tasks", {
      body: { definition: "exports", queue: "nightly", priority: 5, ...work(1, 10) },
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      error: "validation_failed",
      message: expect.stringMatching(/priority.*named queue.*strict FIFO/),
    });
    const zero = await startOf("exports", { queue: "nightly", priority: 0, ...work(1, 10) });
    const queued = await waitForEnd(stack, zero.taskId, 30_000);
    expect(queued).toMatchObject({ status: "succeeded", priority: 0, queue: "nightly" });
    for (const priority of [-1, 10, 1.5, "5"]) {
      const bad = await stack.request("POST", "/v1/tasks", { body: { definition: "exports", priority } });
      expect(bad.status, `priority ${JSON.stringify(priority)}`).toBe(400);
    }
  });
});
