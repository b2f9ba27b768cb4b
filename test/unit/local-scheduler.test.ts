/** One tenant's bad schedule never stops another's, in the local scheduler. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LocalScheduler } from "../../local/local-scheduler.ts";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import { ValidationError } from "../../shared/core/errors.ts";

const now = () => new Date("2026-01-01T00:00:30Z");

function definition(tenant: string, name: string, cron: string): TaskDefinition {
  return {
    tenant,
    name,
    handler: "echo",
    params: {},
    maxAttempts: 1,
    timeoutSeconds: 60,
    schedule: { cron, timezone: "UTC" },
    createdAt: "2026-01-01T00:00:00Z",
    updatedAt: "2026-01-01T00:00:00Z",
  } as TaskDefinition;
}

describe("the local scheduler", () => {
  it("refuses a schedule that can never fire with a 400 error, and keeps serving other tenants", async () => {
    const scheduler = new LocalScheduler({ now });
    await expect(scheduler.put(definition("evil", "never", "0 0 30 2 *"))).rejects.toBeInstanceOf(
      ValidationError,
    );
    await scheduler.put(definition("acme", "nightly", "0 2 * * *"));
    expect(scheduler.scheduled().map((s) => `${s.tenant}/${s.definition}`)).toEqual(["acme/nightly"]);
  });

  it("drops a bad saved entry at start and fires the others", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "baton-schedules-"));
    writeFileSync(
      join(dataDir, "schedules.json"),
      JSON.stringify([
        { tenant: "evil", definition: "never", schedule: { cron: "0 0 30 2 *", timezone: "UTC" } },
        { tenant: "acme", definition: "minutely", schedule: { cron: "* * * * *", timezone: "UTC" } },
      ]),
    );
    let at = now();
    const scheduler = new LocalScheduler({ dataDir, now: () => at });
    expect(scheduler.skipped).toEqual(["evil/never"]);
    await scheduler.put(definition("globex", "hourly", "0 * * * *"));
    at = new Date("2026-01-01T01:00:00Z");
    expect(scheduler.due().map((d) => d.tenant)).toEqual(["acme", "globex"]);
  });
});
