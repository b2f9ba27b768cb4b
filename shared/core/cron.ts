/**
 * Cron schedules of definitions: standard 5-field cron (minute hour day-of-month month
 * day-of-week) in an IANA time zone, checked with cron-parser and translated to EventBridge
 * Scheduler's 6-field `cron()` for AWS.
 */
import { CronExpressionParser } from "cron-parser";
import { ValidationError } from "./errors.ts";

export interface CronSchedule {
  cron: string;
  timezone: string;
  params?: Record<string, unknown>;
}

/** Checks a schedule; returns the EventBridge expression it becomes. Throws ValidationError. */
export function checkSchedule(schedule: CronSchedule): { eventBridge: string } {
  try {
    new Intl.DateTimeFormat("en", { timeZone: schedule.timezone });
  } catch {
    throw new ValidationError(
      `schedule.timezone "${schedule.timezone}" is not an IANA time zone (e.g. Europe/Berlin)`,
    );
  }
  const fields = schedule.cron.trim().split(/\s+/);
  if (fields.length !== 5) {
    throw new ValidationError(
      `schedule.cron "${schedule.cron}" must have 5 fields: minute hour day-of-month month day-of-week`,
    );
  }
  try {
    CronExpressionParser.parse(schedule.cron, { tz: schedule.timezone });
  } catch (error) {
    throw new ValidationError(
      `schedule.cron "${schedule.cron}" is not valid cron: ${(error as Error).message}`,
    );
  }
  return { eventBridge: toEventBridge(fields as [string, string, string, string, string], schedule.cron) };
}

/** The next firing strictly after `after`. */
export function nextFiring(schedule: CronSchedule, after: Date): Date {
  return CronExpressionParser.parse(schedule.cron, { tz: schedule.timezone, currentDate: after })
    .next()
    .toDate();
}

const DAY_NAMES = /^[A-Za-z]{3}(-[A-Za-z]{3})?(,[A-Za-z]{3}(-[A-Za-z]{3})?)*$/;
const DAY_NUMBERS = /^[0-7](-[0-7])?(,[0-7](-[0-7])?)*$/;

/**
 * EventBridge wants 6 fields (… year), `?` in one of day-of-month and day-of-week, and numbers
 * days 1-7 from Sunday where cron numbers them 0-6 (or 7) from Sunday.
 */
function toEventBridge(
  [minute, hour, dayOfMonth, month, dayOfWeek]: [string, string, string, string, string],
  source: string,
): string {
  // Cron (and cron-parser) read "?" as "*"; EventBridge puts "?" in exactly one of the two fields.
  const dom = dayOfMonth === "?" ? "*" : dayOfMonth;
  const dow = dayOfWeek === "?" ? "*" : dayOfWeek;
  let days = dow;
  if (dow !== "*" && !DAY_NAMES.test(dow)) {
    if (!DAY_NUMBERS.test(dow)) {
      throw new ValidationError(
        `schedule.cron "${source}": write day-of-week as *, names (MON-FRI) or numbers 0-7`,
      );
    }
    days = dow.replace(/[0-7]/g, (d) => String((Number(d) % 7) + 1));
  }
  if (dom !== "*" && dow !== "*") {
    throw new ValidationError(
      `schedule.cron "${source}": give day-of-month or day-of-week, not both (EventBridge cannot combine them)`,
    );
  }
  return dow === "*"
    ? `cron(${minute} ${hour} ${dom} ${month} ? *)`
    : `cron(${minute} ${hour} ? ${month} ${days} *)`;
}
