/**
 * Bulk actions on the memory services, where the clock stands still unless moved: the start rate
 * pausing a replay page, and the page done again replaying nothing twice. The emulator suite
 * (test/integration/bulk.test.ts) covers pages, crashes, duplicates and tenants.
 */
import { describe, expect, it } from "vitest";
import { getBulk, processBulkPage, startBulk } from "../../../shared/app/bulk.ts";
import { deleteDefinition } from "../../../shared/app/definitions.ts";
import { createTenant, setTenantLimits } from "../../../shared/app/identity.ts";
import type { Run, RunSummary } from "../../../shared/core/run.ts";
import { appHarness } from "../../support/memory-app.ts";

describe("a bulk replay", () => {
  it("stops its page when the tenant's start rate runs out, and does it again later without replaying a run twice", async () => {
    const h = appHarness();
    await createTenant(h.svc, { id: "acme" });
    await h.define("later", { handler: "counted" });
    const originals: Run[] = [];
    for (let i = 0; i < 5; i += 1) {
      originals.push(await h.start({ definition: "later", after: 3_600_000 }));
      h.clock.advance(1);
    }
    await setTenantLimits(h.svc, "acme", { startsPerSecond: 1, burst: 3 });

    const { bulk, matched, matchedAll } = await startBulk(h.svc, h.runner, {
      action: "replay",
      filter: { definition: "later" },
    });
    expect({ matched, matchedAll }).toEqual({ matched: 5, matchedAll: true });
    const page = { tenant: "acme", bulkId: bulk.id, page: 0 };

    // Three starts in the bucket: the page stops at the fourth and asks to be delivered later.
    expect(await processBulkPage(h.svc, page)).toEqual({ kind: "later", seconds: 1 });
    expect(await replaysOf(h)).toHaveLength(3);
    expect(await getBulk(h.svc, h.runner, bulk.id)).toMatchObject({ status: "running", page: 0, acted: 0 });

    h.clock.advance(5_000);
    expect(await processBulkPage(h.svc, page)).toEqual({ kind: "done" });
    const replays = await replaysOf(h);
    expect(replays.map((run) => run.replayOf).sort()).toEqual(originals.map((run) => run.id).sort());
    expect(await getBulk(h.svc, h.runner, bulk.id)).toMatchObject({
      status: "done",
      matched: 5,
      acted: 5,
      failed: {},
      skipped: {},
    });
  });

  it("counts a run whose definition is gone under failed, by its error code", async () => {
    const h = appHarness();
    await h.define("doomed", { handler: "counted" });
    const original = await h.start({ definition: "doomed", after: 3_600_000 });
    h.clock.advance(1);
    await deleteDefinition(h.svc, "acme", "doomed");
    const { bulk } = await startBulk(h.svc, h.runner, { action: "replay", filter: {} });
    await processBulkPage(h.svc, { tenant: "acme", bulkId: bulk.id, page: 0 });
    expect(await getBulk(h.svc, h.runner, bulk.id)).toMatchObject({
      status: "done",
      matched: 1,
      acted: 0,
      failed: { unknown_definition: 1 },
    });
    expect((await h.run(original.id)).status).toBe("scheduled");
  });
});

async function replaysOf(h: ReturnType<typeof appHarness>): Promise<RunSummary[]> {
  const page = await h.svc.runs.list({ tenant: "acme", limit: 100 });
  return page.items.filter((run) => run.replayOf !== undefined);
}
