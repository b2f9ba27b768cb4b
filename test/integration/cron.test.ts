/** Cron schedules of definitions: the local scheduler, firings, and what the API accepts. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTriggerHandler } from "../../functions/trigger/handler.ts";
import { LocalScheduler } from "../../local/local-scheduler.ts";
import { startScheduled } from "../../shared/app/schedules.ts";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import { startTestStack, type TestStack, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
beforeAll(async () => {
  // No timer loop: the tests fire schedules themselves, and a real minute boundary firing a
  // "* * * * *" schedule mid-test would take the slot or the rate token they count on.
  stack = await startTestStack({ leaseSeconds: 3, timerIntervalMs: 0 });
});
afterAll(async () => {
  await stack?.stop();
});

const scheduled = (name: string, cron: string, timezone = "UTC"): TaskDefinition => ({
  tenant: "acme",
  name,
  handler: "echo",
  params: {},
  maxAttempts: 3,
  timeoutSeconds: 60,
  schedule: { cron, timezone, params: { from: "cron" } },
  createdAt: "",
  updatedAt: "",
});

describe("the local scheduler (fake clock)", () => {
  it("fires each schedule once per due time, keeps schedules across restarts and skips missed firings", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "baton-cron-"));
    let now = new Date("2026-03-01T10:02:00Z");
    const scheduler = new LocalScheduler({ dataDir, now: () => now });
    await scheduler.put(scheduled("every-5", "*/5 * * * *"));
    expect(scheduler.due()).toEqual([]);
    now = new Date("2026-03-01T10:05:00.200Z");
    expect(scheduler.due()).toEqual([
      { tenant: "acme", definition: "every-5", firedAt: new Date("2026-03-01T10:05:00Z") },
    ]);
    expect(scheduler.due()).toEqual([]); // fired once for 10:05

    // Down from 10:06 to 11:31: the restarted scheduler fires next at 11:35, not for every missed slot.
    now = new Date("2026-03-01T11:31:00Z");
    const restarted = new LocalScheduler({ dataDir, now: () => now });
    expect(restarted.due()).toEqual([]);
    now = new Date("2026-03-01T11:35:00Z");
    expect(restarted.due().map((f) => f.firedAt.toISOString())).toEqual(["2026-03-01T11:35:00.000Z"]);

    await restarted.remove("acme", "every-5");
    now = new Date("2026-03-01T12:00:00Z");
    expect(restarted.due()).toEqual([]);
    expect(new LocalScheduler({ dataDir, now: () => now }).due()).toEqual([]);
  });

  it("fires in the schedule's own time zone", async () => {
    let now = new Date("2026-07-01T23:30:00Z");
    const scheduler = new LocalScheduler({ now: () => now });
    await scheduler.put(scheduled("nightly", "0 2 * * *", "Europe/Berlin"));
    now = new Date("2026-07-02T00:00:00Z"); // 02:00 in Berlin (CEST)
    expect(scheduler.due()).toHaveLength(1);
  });
});

describe("firings", () => {
  it("start one run per firing, recorded as a scheduled start with the schedule's params", async () => {
    await stack.request("PUT", "/v1/definitions/report", {
      body: { handler: "echo", schedule: { cron: "0 * * * *", params: { from: "cron" } } },
    });
    const firing = { tenant: "acme", definition: "report", firedAt: new Date("2026-03-01T10:00:00Z") };
    expect(await startScheduled(stack.services, firing)).toBe("started");
    expect(await startScheduled(stack.services, firing)).toBe("duplicate");
    const listed = (await stack.request("GET", "/v1/tasks?definition=report")).body.items;
    expect(listed).toHaveLength(1);
    const run = await waitForEnd(stack, listed[0].taskId);
    expect(run).toMatchObject({
      status: "succeeded",
      trigger: "schedule",
      createdBy: "schedule",
      output: { from: "cron" },
    });
  });

  it("records a firing refused by a full line as a failed run", async () => {
    await stack.request("PUT", "/v1/definitions/busy", {
      body: {
        handler: "sleep",
        maxConcurrency: 1,
        maxQueueLength: 0,
        params: { ms: 5_000 },
        schedule: { cron: "* * * * *" },
      },
    });
    expect(
      await startScheduled(stack.services, {
        tenant: "acme",
        definition: "busy",
        firedAt: new Date("2026-03-01T10:00:00Z"),
      }),
    ).toBe("started");
    expect(
      await startScheduled(stack.services, {
        tenant: "acme",
        definition: "busy",
        firedAt: new Date("2026-03-01T10:01:00Z"),
      }),
    ).toBe("queue_full");
    const listed = (await stack.request("GET", "/v1/tasks?definition=busy")).body.items;
    const statuses = listed.map((t: { status: string }) => t.status);
    expect(statuses).toHaveLength(2);
    expect(statuses).toContain("failed");
    expect(statuses.some((status: string) => status === "queued" || status === "running")).toBe(true);
    const refused = listed.find((t: { status: string }) => t.status === "failed");
    expect(refused).toMatchObject({ trigger: "schedule", error: { code: "queue_full" } });
    for (const t of listed) await stack.request("POST", `/v1/tasks/${t.taskId}/cancel`);
  });

  it("reach the trigger Lambda as EventBridge Scheduler delivers them", async () => {
    await stack.request("PUT", "/v1/definitions/hourly", {
      body: { handler: "echo", schedule: { cron: "0 * * * *" } },
    });
    const trigger = createTriggerHandler(stack.services);
    expect(await trigger({ kind: "cron", tenant: "acme", definition: "hourly" })).toEqual({
      outcome: "started",
    });
    expect(await trigger({ kind: "cron", tenant: "acme", definition: "no-such" })).toEqual({
      outcome: "no_schedule",
    });
  });

  it("name the run by the firing's scheduled time, so a retry minutes later starts nothing", async () => {
    await stack.request("PUT", "/v1/definitions/retried", {
      body: { handler: "echo", schedule: { cron: "0 * * * *" } },
    });
    const trigger = createTriggerHandler(stack.services);
    // What Scheduler delivers (the keyword replaced), first on time, then as a retry would: the
    // same scheduled time arriving later, in another minute of the trigger's clock.
    const firing = {
      kind: "cron",
      tenant: "acme",
      definition: "retried",
      scheduledAt: "2026-03-01T10:00:00Z",
    };
    expect(await trigger(firing)).toEqual({ outcome: "started" });
    expect(await trigger(firing)).toEqual({ outcome: "duplicate" });
    // Another scheduled time is another firing.
    expect(await trigger({ ...firing, scheduledAt: "2026-03-01T11:00:00Z" })).toEqual({ outcome: "started" });
    const runs = (await stack.request("GET", "/v1/tasks?definition=retried")).body.items;
    expect(runs).toHaveLength(2);
    for (const t of runs) await stack.request("POST", `/v1/tasks/${t.taskId}/cancel`);
  });
});

describe("the API", () => {
  it("registers and removes a definition's schedule with the scheduler", async () => {
    const put = await stack.request("PUT", "/v1/definitions/tidy", {
      body: { handler: "echo", schedule: { cron: "30 3 * * *", timezone: "America/New_York" } },
    });
    expect(put.status).toBe(201);
    expect(put.body.schedule).toEqual({ cron: "30 3 * * *", timezone: "America/New_York" });
    const tidy = () => stack.scheduler.scheduled().filter((s) => s.definition === "tidy");
    expect(tidy()).toMatchObject([{ tenant: "acme", cron: "30 3 * * *", timezone: "America/New_York" }]);
    // Changing the definition changes its schedule; dropping the schedule removes it.
    await stack.request("PUT", "/v1/definitions/tidy", {
      body: { handler: "echo", schedule: { cron: "0 4 * * *" } },
    });
    expect(tidy()).toMatchObject([{ cron: "0 4 * * *", timezone: "UTC" }]);
    await stack.request("PUT", "/v1/definitions/tidy", { body: { handler: "echo" } });
    expect(tidy()).toEqual([]);
    await stack.request("PUT", "/v1/definitions/tidy", {
      body: { handler: "echo", schedule: { cron: "0 5 * * *" } },
    });
    expect(tidy()).toHaveLength(1);
    await stack.request("DELETE", "/v1/definitions/tidy");
    expect(tidy()).toEqual([]);
  });

  it.each([
    ["bad cron", { cron: "every day" }],
    ["bad zone", { cron: "0 2 * * *", timezone: "Nowhere/Land" }],
    ["unknown field", { cron: "0 2 * * *", when: "now" }],
  ])("refuses a %s with 400 and stores nothing", async (_what, schedule) => {
    const response = await stack.request("PUT", "/v1/definitions/broken", {
      body: { handler: "echo", schedule },
    });
    expect(response.status).toBe(400);
    expect((await stack.request("GET", "/v1/definitions/broken")).status).toBe(404);
  });
});
