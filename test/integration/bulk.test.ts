/**
 * Bulk actions (POST /v1/tasks/bulk, GET /v1/tasks/bulk/{bulkId}) through the real handlers on
 * the emulators, with pages of 25 runs so that a few dozen runs cross several pages.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BulkView, StartedBulkView } from "../../functions/api/responses.ts";
import { processBulkPage, sweepBulks } from "../../shared/app/bulk.ts";
import { ensureTenantKey } from "../../shared/app/identity.ts";
import { AwsCallCounter } from "../../shared/aws/call-counter.ts";
import { BULK_LIMITS, bulkReplayRunId } from "../../shared/core/bulk.ts";
import type { BulkStore } from "../../shared/core/ports.ts";
import type { RunSummary } from "../../shared/core/run.ts";
import { newApiKey } from "../../shared/core/tenant.ts";
import { startTask, startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

const PAGE = 25;
const HOUR_MS = 3_600_000;
const counter = new AwsCallCounter();
let stack: TestStack;
const otherKey = newApiKey().key;

beforeAll(async () => {
  stack = await startTestStack({ bulkPageSize: PAGE, callCounter: counter });
  await ensureTenantKey(stack.services, { tenant: "bulk-other", role: "admin", key: otherKey });
  for (const key of [undefined, otherKey]) {
    await stack.request("PUT", "/v1/definitions/later", {
      body: { handler: "echo" },
      ...(key ? { key } : {}),
    });
  }
  await stack.request("PUT", "/v1/definitions/bystander", { body: { handler: "echo" } });
  await stack.request("PUT", "/v1/definitions/broken", {
    body: { handler: "fail", params: { nonRetriable: true, message: "no data" } },
  });
});
afterAll(async () => {
  await stack?.stop();
});

const bulk = (body: unknown, key?: string) =>
  stack.request("POST", "/v1/tasks/bulk", { body, ...(key === undefined ? {} : { key }) });
const bulkView = async (bulkId: string, key?: string) =>
  stack.request("GET", `/v1/tasks/bulk/${bulkId}`, key === undefined ? {} : { key });
const ended = (bulkId: string) =>
  waitFor(
    async () => {
      const { body } = await bulkView(bulkId);
      return body.status === "running" ? undefined : body;
    },
    30_000,
    `bulk ${bulkId} to end`,
  );
const statusOf = async (id: string, key?: string) =>
  (await stack.request("GET", `/v1/tasks/${id}`, key === undefined ? {} : { key })).body.status;
/** Delayed starts: they sit `scheduled` an hour, so a bulk finds them as started. */
const startLater = (body: Record<string, unknown>, key?: string) =>
  key === undefined
    ? startTask(stack, { definition: "later", after: HOUR_MS, ...body })
    : stack
        .request("POST", "/v1/tasks", { key, body: { definition: "later", after: HOUR_MS, ...body } })
        .then((response) => response.body.taskId as string);

describe("bulk cancel", () => {
  let early: string[];
  let late: string[];
  let queued: string[];
  let between: string;
  let bystanders: string[];
  let others: string[];

  beforeAll(async () => {
    early = await Promise.all(Array.from({ length: 20 }, () => startLater({})));
    await new Promise((resolve) => setTimeout(resolve, 20));
    between = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    late = await Promise.all(Array.from({ length: 30 }, () => startLater({})));
    queued = await Promise.all(Array.from({ length: 10 }, () => startLater({ queue: "nightly" })));
    bystanders = await Promise.all(
      Array.from({ length: 5 }, () => startTask(stack, { definition: "bystander", after: HOUR_MS })),
    );
    others = await Promise.all(Array.from({ length: 5 }, () => startLater({}, otherKey)));
  });

  it("counts without acting on a dry run, across pages, by definition, queue and creation time", async () => {
    const all = await bulk({ action: "cancel", filter: { definition: "later" }, dryRun: true });
    expect(all.status).toBe(202);
    // The answer counts the first page only, and says so.
    expect(all.body).toEqual({ bulkId: expect.any(String), matched: PAGE, matchedAll: false });
    StartedBulkView.parse(all.body);
    const counted = await ended(all.body.bulkId);
    // The answer is what the OpenAPI document says it is (strict: no field more or less).
    BulkView.parse(counted);
    expect(counted).toMatchObject({
      action: "cancel",
      dryRun: true,
      status: "done",
      matched: 60,
      acted: 0,
      skipped: { count: 0, reasons: {} },
      pages: 3,
      endedAt: expect.any(String),
      error: null,
    });

    const counts = async (filter: Record<string, unknown>) => {
      const started = await bulk({ action: "cancel", filter, dryRun: true });
      expect(started.status).toBe(202);
      return (await ended(started.body.bulkId)).matched;
    };
    expect(await counts({ definition: "later", queue: "nightly" })).toBe(10);
    expect(await counts({ definition: "later", createdBefore: between })).toBe(20);
    expect(await counts({ definition: "later", createdAfter: between })).toBe(40);
    expect(await counts({ status: "scheduled", createdAfter: between })).toBe(45);
    expect(await counts({ definition: "later", status: "failed" })).toBe(0);
    // Nothing was touched.
    for (const id of [...early, ...late]) expect(await statusOf(id)).toBe("scheduled");
  });

  it("cancels every match over several pages, doing a page again after a crash before its save, and touches nothing else", async () => {
    // The first save of a page fails as if the worker died after acting: its message comes back
    // (after the visibility timeout) and the page is done again.
    const store = stack.services.bulks;
    let crashes = 0;
    const crashing: BulkStore = {
      create: (b, max) => store.create(b, max),
      get: (tenant, id) => store.get(tenant, id),
      dueForSweep: (now, limit) => store.dueForSweep(now, limit),
      moveSweepAt: (ref, expect, at) => store.moveSweepAt(ref, expect, at),
      savePage: async (next, page) => {
        if (page === 1 && crashes === 0) {
          crashes += 1;
          throw new Error("injected: the worker died before saving the page");
        }
        return store.savePage(next, page);
      },
    };
    stack.services.bulks = crashing;
    counter.reset();
    try {
      const started = await bulk({ action: "cancel", filter: { definition: "later" } });
      expect(started.status).toBe(202);
      const done = await ended(started.body.bulkId);
      expect(crashes).toBe(1);
      expect(done).toMatchObject({ status: "done", matched: 60, acted: 60, pages: 3 });
      expect(done.skipped.count + done.failed.count).toBe(0);
    } finally {
      stack.services.bulks = store;
    }
    // Listing and acting are queries and key reads: no table scan.
    expect(counter.snapshot()["DynamoDB.Scan"]).toBeUndefined();
    for (const id of [...early, ...late, ...queued]) expect(await statusOf(id)).toBe("cancelled");
    for (const id of bystanders) expect(await statusOf(id)).toBe("scheduled");
    for (const id of others) expect(await statusOf(id, otherKey)).toBe("scheduled");

    // Again: every run is found cancelled already, skipped by reason.
    const again = await bulk({ action: "cancel", filter: { definition: "later" } });
    expect(await ended(again.body.bulkId)).toMatchObject({
      matched: 60,
      acted: 0,
      skipped: { count: 60, reasons: { already_ended: 60 } },
    });
  });

  it("is the caller's tenant's only: another tenant's bulk is not found, and its own touches only its runs", async () => {
    const mine = await bulk({ action: "cancel", filter: {}, dryRun: true });
    expect((await bulkView(mine.body.bulkId, otherKey)).status).toBe(404);
    expect((await bulkView(mine.body.bulkId)).status).toBe(200);
    await ended(mine.body.bulkId);

    const theirs = await bulk({ action: "cancel", filter: { definition: "later" } }, otherKey);
    const done = await waitFor(async () => {
      const { body } = await bulkView(theirs.body.bulkId, otherKey);
      return body.status === "done" ? body : undefined;
    });
    expect(done).toMatchObject({ matched: 5, acted: 5 });
    for (const id of others) expect(await statusOf(id, otherKey)).toBe("cancelled");
    for (const id of bystanders) expect(await statusOf(id)).toBe("scheduled");
  });
});

describe("bulk replay", () => {
  it("replays each failed run once, over several pages, even when its page message comes twice", async () => {
    const originals = await Promise.all(
      Array.from({ length: 30 }, () => startTask(stack, { definition: "broken" })),
    );
    for (const id of originals) expect((await waitForEnd(stack, id)).status).toBe("failed");

    const started = await bulk({ action: "replay", filter: { status: "failed", definition: "broken" } });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ matched: PAGE, matchedAll: false });
    const { bulkId } = started.body;
    // A duplicate delivery of the first page, racing the original.
    await stack.services.queue.enqueueBulkPage({ tenant: "acme", bulkId, page: 0 });
    const done = await ended(bulkId);
    expect(done).toMatchObject({ status: "done", matched: 30, acted: 30, pages: 2 });

    const replays = (await listAll("broken")).filter((run) => run.replayOf !== undefined);
    expect(replays.map((run) => run.replayOf).sort()).toEqual([...originals].sort());
    for (const run of replays) {
      expect(run.id).toBe(bulkReplayRunId(bulkId, run.replayOf ?? ""));
      expect(run.trigger).toBe("replay");
    }

    // A page message for a page already saved does nothing, now or later.
    expect(await processBulkPage(stack.services, { tenant: "acme", bulkId, page: 0 })).toEqual({
      kind: "done",
    });
    expect(await processBulkPage(stack.services, { tenant: "acme", bulkId, page: 1 })).toEqual({
      kind: "done",
    });
    expect((await bulkView(bulkId)).body).toEqual(done);
    expect((await listAll("broken")).filter((run) => run.replayOf !== undefined)).toHaveLength(30);
  });

  it("is sent again by the sweeper when its page message was lost", async () => {
    const since = new Date().toISOString();
    const original = await startTask(stack, { definition: "broken" });
    await waitForEnd(stack, original);
    const queue = stack.services.queue;
    stack.services.queue = {
      enqueue: (message, sendId) => queue.enqueue(message, sendId),
      setVisibility: (receipt, seconds) => queue.setVisibility(receipt, seconds),
      enqueueBulkPage: async () => {},
    };
    let bulkId: string;
    try {
      const started = await bulk({
        action: "replay",
        filter: { definition: "broken", createdAfter: since },
        dryRun: true,
      });
      expect(started.status).toBe(202);
      bulkId = started.body.bulkId;
    } finally {
      stack.services.queue = queue;
    }
    expect((await bulkView(bulkId)).body).toMatchObject({ status: "running", pages: 0 });
    // Not before its stall deadline…
    expect(await sweepBulks(stack.services, new Date(), 100)).toBe(0);
    // …and once after it.
    const later = new Date(Date.now() + (BULK_LIMITS.stallSeconds + 1) * 1000);
    expect(await sweepBulks(stack.services, later, 100)).toBe(1);
    expect(await sweepBulks(stack.services, later, 100)).toBe(0);
    expect(await ended(bulkId)).toMatchObject({ status: "done", matched: 1 });
  });
});

describe("bulk limits and input", () => {
  it("refuses a tenant's bulk beyond its running ones with 429, and takes one again when they end", async () => {
    await stack.stopWorker();
    const ids: string[] = [];
    try {
      for (let i = 0; i < BULK_LIMITS.maxRunning; i += 1) {
        const started = await bulk({ action: "cancel", filter: {}, dryRun: true });
        expect(started.status).toBe(202);
        ids.push(started.body.bulkId);
      }
      const refused = await bulk({ action: "cancel", filter: {}, dryRun: true });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe("rate_limited");
      // Another tenant is not held back by this one's bulks.
      expect((await bulk({ action: "cancel", filter: {}, dryRun: true }, otherKey)).status).toBe(202);
    } finally {
      stack.startWorker();
    }
    for (const id of ids) await ended(id);
    expect((await bulk({ action: "cancel", filter: {}, dryRun: true })).status).toBe(202);
  });

  it.each([
    ["an unknown action", { action: "delete", filter: {} }],
    ["no filter", { action: "cancel" }],
    ["an unknown status", { action: "cancel", filter: { status: "done" } }],
    ["a bad definition name", { action: "cancel", filter: { definition: "no spaces" } }],
    ["a time without a zone", { action: "cancel", filter: { createdAfter: "2026-01-01T00:00:00" } }],
    [
      "an empty time range",
      {
        action: "cancel",
        filter: { createdAfter: "2026-02-01T00:00:00Z", createdBefore: "2026-01-01T00:00:00Z" },
      },
    ],
    ["an unknown filter field", { action: "cancel", filter: { tenant: "bulk-other" } }],
    ["an unknown field", { action: "cancel", filter: {}, tenant: "bulk-other" }],
    ["a non-boolean dryRun", { action: "cancel", filter: {}, dryRun: "yes" }],
  ])("answers 400 {error, message} to %s", async (_what, body) => {
    const response = await bulk(body);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: "validation_failed", message: expect.any(String) });
  });

  it("answers 404 for a bulk that does not exist and 400 for an id that cannot be one", async () => {
    expect((await bulkView("01JZZZZZZZZZZZZZZZZZZZZZZZ")).status).toBe(404);
    const bad = await bulkView("no%20such");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("validation_failed");
  });
});

async function listAll(definition: string): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await stack.services.runs.list({
      tenant: "acme",
      definition,
      limit: 100,
      ...(cursor === undefined ? {} : { cursor }),
    });
    runs.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return runs;
}
