/** Definitions (checks, schedules, cron firings) and identity (tenants, keys, authentication, roles). */
import { describe, expect, it } from "vitest";
import { deleteDefinition, listDefinitions, putDefinition } from "../../../shared/app/definitions.ts";
import {
  authenticate,
  createTenant,
  issueKey,
  listKeys,
  requireOperator,
  requireRole,
  revokeKey,
} from "../../../shared/app/identity.ts";
import { startScheduled } from "../../../shared/app/schedules.ts";
import { sweep } from "../../../shared/app/sweeper.ts";
import { listTasks } from "../../../shared/app/tasks.ts";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from "../../../shared/core/errors.ts";
import { appHarness } from "../../support/memory-app.ts";

describe("putDefinition", () => {
  it("creates, then replaces keeping createdAt, with defaults filled in", async () => {
    const h = appHarness();
    const first = await putDefinition(h.svc, "acme", "echo", { handler: "echo" });
    expect(first).toMatchObject({
      created: true,
      definition: { maxAttempts: 3, timeoutSeconds: 600, params: {}, createdAt: "2026-01-01T00:00:00.000Z" },
    });
    h.clock.advance(1_000);
    const second = await putDefinition(h.svc, "acme", "echo", { handler: "echo", maxAttempts: 5 });
    expect(second).toMatchObject({
      created: false,
      definition: {
        maxAttempts: 5,
        createdAt: "2026-01-01T00:00:00.000Z",
        updatedAt: "2026-01-01T00:00:01.000Z",
      },
    });
  });

  it("refuses what could never run: an unregistered handler, a queue limit without a concurrency limit, callback settings without callback mode", async () => {
    const h = appHarness();
    await expect(putDefinition(h.svc, "acme", "x", { handler: "no-such-handler" })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(
      putDefinition(h.svc, "acme", "x", { handler: "echo", maxQueueLength: 5 }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      putDefinition(h.svc, "acme", "x", { handler: "echo", callbackTimeoutSeconds: 60 }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      putDefinition(h.svc, "acme", "x", {
        handler: "echo",
        schedule: { cron: "not a cron", timezone: "UTC" },
      }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect((await listDefinitions(h.svc, "acme", {})).items).toEqual([]);
  });

  it("sets and removes a definition's cron schedule with it", async () => {
    const h = appHarness();
    const schedule = { cron: "0 3 * * *", timezone: "Europe/Paris", params: { full: true } };
    await putDefinition(h.svc, "acme", "nightly", { handler: "echo", schedule });
    expect(h.scheduler.get("acme", "nightly")).toEqual(schedule);
    await putDefinition(h.svc, "acme", "nightly", { handler: "echo" });
    expect(h.scheduler.get("acme", "nightly")).toBeUndefined();
    await putDefinition(h.svc, "acme", "nightly", { handler: "echo", schedule });
    await deleteDefinition(h.svc, "acme", "nightly");
    expect(h.scheduler.get("acme", "nightly")).toBeUndefined();
    await expect(deleteDefinition(h.svc, "acme", "nightly")).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("startScheduled", () => {
  it("starts one run per firing with the schedule's params, however often the firing is delivered", async () => {
    const h = appHarness();
    await putDefinition(h.svc, "acme", "nightly", {
      handler: "echo",
      schedule: { cron: "0 3 * * *", timezone: "UTC", params: { full: true } },
    });
    const firedAt = new Date("2026-01-02T03:00:00.000Z");
    expect(await startScheduled(h.svc, { tenant: "acme", definition: "nightly", firedAt })).toBe("started");
    expect(
      await startScheduled(h.svc, {
        tenant: "acme",
        definition: "nightly",
        firedAt: new Date(firedAt.getTime() + 30_000),
      }),
    ).toBe("duplicate");
    const runs = (await listTasks(h.svc, h.admin, {})).items;
    expect(runs).toHaveLength(1);
    expect(await h.run(String(runs[0]?.id))).toMatchObject({
      trigger: "schedule",
      params: { full: true },
      createdBy: "schedule",
    });
    expect(await startScheduled(h.svc, { tenant: "acme", definition: "gone", firedAt })).toBe("no_schedule");
  });

  it("records a firing refused by a full waiting line as a failed run", async () => {
    const h = appHarness();
    await putDefinition(h.svc, "acme", "nightly", {
      handler: "gated",
      maxConcurrency: 1,
      maxQueueLength: 0,
      schedule: { cron: "0 3 * * *", timezone: "UTC" },
    });
    await h.start({ definition: "nightly" });
    expect(
      await startScheduled(h.svc, {
        tenant: "acme",
        definition: "nightly",
        firedAt: new Date("2026-01-02T03:00:00Z"),
      }),
    ).toBe("queue_full");
    expect((await listTasks(h.svc, h.admin, { status: "failed" })).items).toMatchObject([
      { trigger: "schedule", error: { code: "queue_full" } },
    ]);
    expect(await h.counters.get("acme", "nightly")).toMatchObject({ running: 1, waiting: 0 });
  });

  it("leaves a refused firing to the sweeper when the process dies between its create and its end", async () => {
    const h = appHarness();
    await putDefinition(h.svc, "acme", "nightly", {
      handler: "gated",
      maxConcurrency: 1,
      maxQueueLength: 0,
      schedule: { cron: "0 3 * * *", timezone: "UTC" },
    });
    await h.start({ definition: "nightly" });
    // The end's write never happens: the process is gone right after the create.
    const transition = h.svc.runs.transition.bind(h.svc.runs);
    h.svc.runs.transition = async () => {
      throw new Error("process died");
    };
    const firing = { tenant: "acme", definition: "nightly", firedAt: new Date("2026-01-02T03:00:00Z") };
    await expect(startScheduled(h.svc, firing)).rejects.toThrow("process died");
    h.svc.runs.transition = transition;
    const [left] = (await listTasks(h.svc, h.admin, { definition: "nightly" })).items.filter(
      (run) => run.trigger === "schedule",
    );
    expect(left?.status).toBe("scheduled");
    // A redelivered firing finds it and changes nothing; the sweeper's due-start backstop ends it.
    expect(await startScheduled(h.svc, firing)).toBe("duplicate");
    h.clock.advance(120_000);
    await sweep(h.svc);
    expect(await h.run(left?.id ?? "")).toMatchObject({ status: "failed", error: { code: "queue_full" } });
  });
});

describe("identity", () => {
  it("authenticates issued keys to their tenant and role, and a revoked key no more", async () => {
    const h = appHarness();
    await createTenant(h.svc, { id: "acme" });
    await expect(createTenant(h.svc, { id: "acme" })).rejects.toBeInstanceOf(ConflictError);
    const admin = await issueKey(h.svc, { tenant: "acme", role: "admin" });
    const runner = await issueKey(h.svc, { tenant: "acme", role: "runner" });
    expect(await authenticate(h.svc, `Bearer ${admin.key}`)).toEqual({
      kind: "tenant",
      tenant: "acme",
      role: "admin",
      keyId: admin.keyId,
    });
    const principal = await authenticate(h.svc, `bearer ${runner.key}`);
    expect(() => requireRole(principal, "admin")).toThrow(ForbiddenError);
    expect(requireRole(principal, "runner")).toMatchObject({ tenant: "acme" });
    expect((await listKeys(h.svc, "acme")).map((k) => k.keyId).sort()).toEqual(
      [admin.keyId, runner.keyId].sort(),
    );
    // Keys are stored hashed.
    expect(JSON.stringify(await h.tenants.listKeys("acme"))).not.toContain(admin.key);

    await expect(revokeKey(h.svc, "globex", runner.keyId)).rejects.toBeInstanceOf(NotFoundError);
    await revokeKey(h.svc, "acme", runner.keyId);
    await expect(authenticate(h.svc, `Bearer ${runner.key}`)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(authenticate(h.svc, undefined)).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(authenticate(h.svc, "Basic abc")).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(issueKey(h.svc, { tenant: "globex", role: "admin" })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("knows the operator only by the root key, and the operator manages tenants only", async () => {
    const rootKey = "root-key-of-at-least-24-characters";
    const h = appHarness({ rootKey });
    const operator = await authenticate(h.svc, `Bearer ${rootKey}`);
    expect(operator).toEqual({ kind: "operator" });
    expect(() => requireOperator(operator)).not.toThrow();
    expect(() => requireRole(operator, "runner")).toThrow(ForbiddenError);
    const withoutRoot = appHarness();
    await expect(authenticate(withoutRoot.svc, `Bearer ${rootKey}`)).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });
});
