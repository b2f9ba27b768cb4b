/** What the run timer's one-time schedules and the cron schedules share on EventBridge Scheduler. */
import { createHash } from "node:crypto";
import { DeleteScheduleCommand, type SchedulerClient } from "@aws-sdk/client-scheduler";
import { checkScheduleName } from "./aws-limits.ts";

/**
 * Schedule names allow 64 characters of [0-9A-Za-z-_.]; tenant and name are hashed into one, so
 * any tenant and run or definition name fits, and the same pair always names the same schedule.
 */
export function scheduleName(kind: "start" | "cron", tenant: string, name: string): string {
  return checkScheduleName(
    `${kind}-${createHash("sha256").update(`${tenant}/${name}`).digest("hex").slice(0, 40)}`,
  );
}

/** Deletes a schedule; one that is not there (never made, or fired and deleted itself) is fine. */
export async function deleteScheduleIfAny(
  client: SchedulerClient,
  group: string,
  name: string,
): Promise<void> {
  try {
    await client.send(new DeleteScheduleCommand({ Name: name, GroupName: group }));
  } catch (error) {
    if (!(error instanceof Error && error.name === "ResourceNotFoundException")) throw error;
  }
}
