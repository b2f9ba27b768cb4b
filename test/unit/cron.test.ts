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
    // "?" is cron's "any" too; EventBridge allows it in one day field only.
    ["0 0 ? * *", "cron(0 0 * * ? *)"],
    ["0 0 * * ?", "cron(0 0 * * ? *)"],
    ["0 0 ? * MON", "cron(0 0 ? * MON *)"],
    ["0 0 15 * ?", "cron(0 0 15 * ? *)"],
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

describe("cron schedules, exactly", () => {
  const message = (cron: string, timezone = "UTC") => {
    try {
      checkSchedule({ cron, timezone });
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as Error).message;
    }
    return "accepted";
  };

  it.each([
    ["0 0 * * mon", "cron(0 0 ? * mon *)"],
    ["0 0 * * MON,WED,FRI", "cron(0 0 ? * MON,WED,FRI *)"],
    ["0 0 * * MON-WED,FRI-SAT", "cron(0 0 ? * MON-WED,FRI-SAT *)"],
    ["0 0 * * 1,3,5", "cron(0 0 ? * 2,4,6 *)"],
    ["0 0 * * 5-6,0", "cron(0 0 ? * 6-7,1 *)"],
    [" 0  2 * * * ", "cron(0 2 * * ? *)"],
  ])("translates %j to %s", (cron, expected) => {
    expect(checkSchedule({ cron, timezone: "Europe/Berlin" })).toStrictEqual({ eventBridge: expected });
  });

  it("names the zone that is not one", () => {
    expect(message("0 2 * * *", "Mars/Olympus")).toBe(
      'schedule.timezone "Mars/Olympus" is not an IANA time zone (e.g. Europe/Berlin)',
    );
  });

  it("asks for five fields", () => {
    expect(message("0 0 2 * * *")).toBe(
      'schedule.cron "0 0 2 * * *" must have 5 fields: minute hour day-of-month month day-of-week',
    );
    expect(message("0 2 * *")).toBe(
      'schedule.cron "0 2 * *" must have 5 fields: minute hour day-of-month month day-of-week',
    );
  });

  it("passes on the parser's reason", () => {
    expect(message("61 * * * *")).toBe(
      'schedule.cron "61 * * * *" is not valid cron: Constraint error, got value 61 expected range 0-59',
    );
  });

  it.each(["5L", "1#2", "MON-5", "1-MON"])(
    "refuses day-of-week %s, which EventBridge reads otherwise",
    (dow) => {
      expect(message(`0 0 * * ${dow}`)).toBe(
        `schedule.cron "0 0 * * ${dow}": write day-of-week as *, names (MON-FRI) or numbers 0-7`,
      );
    },
  );

  it("refuses both day fields with the reason", () => {
    expect(message("0 0 1 * MON")).toBe(
      'schedule.cron "0 0 1 * MON": give day-of-month or day-of-week, not both (EventBridge cannot combine them)',
    );
  });
});
