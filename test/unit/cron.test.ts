import { describe, expect, it } from "vitest";
import { checkSchedule, nextFiring } from "../../shared/core/cron.ts";
import { ValidationError } from "../../shared/core/errors.ts";

describe("cron schedules", () => {
  it.each([
    ["0 2 * * *", "cron(0 2 * * ? *)"],
    ["*/15 9-17 * * MON-FRI", "cron(*/15 9-17 ? * MON-FRI *)"],
    ["30 6 * * 0", "cron(30 6 ? * 1 *)"],
    ["0 0 * * 1-5", "cron(0 0 ? * 2-6 *)"],
    ["0 0 * * 7", "cron(0 0 ? * 1 *)"],
    ["0 12 1 * *", "cron(0 12 1 * ? *)"],
  ])("translates %s to EventBridge's %s", (cron, expected) => {
    expect(checkSchedule({ cron, timezone: "UTC" }).eventBridge).toBe(expected);
  });

  it.each([
    ["six fields", "0 0 2 * * *", "UTC"],
    ["nonsense", "every night", "UTC"],
    ["both day fields", "0 0 1 * MON", "UTC"],
    ["an unknown zone", "0 2 * * *", "Mars/Olympus"],
    ["an out-of-range minute", "61 * * * *", "UTC"],
  ])("refuses %s", (_what, cron, timezone) => {
    expect(() => checkSchedule({ cron, timezone })).toThrow(ValidationError);
  });

  it("computes the next firing in the schedule's own time zone", () => {
    const next = nextFiring(
      { cron: "0 2 * * *", timezone: "Europe/Berlin" },
      new Date("2026-07-01T12:00:00Z"),
    );
    expect(next.toISOString()).toBe("2026-07-02T00:00:00.000Z"); // 02:00 CEST
  });
});
