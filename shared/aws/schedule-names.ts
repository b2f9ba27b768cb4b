/** What the run timer's one-time schedules and the cron schedules share on EventBridge Scheduler. */
import { createHash } from "node:crypto";
import { DeleteScheduleCommand, type SchedulerClient, type Target } from "@aws-sdk/client-scheduler";
import { checkScheduleName } from "./aws-limits.ts";

/**
 * How long EventBridge Scheduler keeps trying to hand a firing to the trigger Lambda (throttled,
 * or Lambda unavailable) before it gives up and puts the firing in the dead-letter queue. The
 * default (185 tries over 24 hours) would start a missed cron run a day late; an hour is enough
 * to ride out an outage, and the dead-letter queue's alarm tells the operator about the rest.
 * Every firing is idempotent (a start falls due once; a cron firing is named by its scheduled
 * minute), so retries never start a run twice.
 */
export const SCHEDULE_RETRY_POLICY = { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 60 * 60 } as const;

export interface ScheduleTargetOptions {
  targetArn: string;
  roleArn: string;
  /** A standard SQS queue; the scheduler role must be allowed to send to it. */
  deadLetterArn?: string;
}

/** The trigger Lambda as a schedule's target: the payload, the retry policy and the dead-letter queue. */
export function scheduleTarget(options: ScheduleTargetOptions, payload: object): Target {
  return {
    Arn: options.targetArn,
    RoleArn: options.roleArn,
    Input: JSON.stringify(payload),
    RetryPolicy: { ...SCHEDULE_RETRY_POLICY },
    ...(options.deadLetterArn === undefined ? {} : { DeadLetterConfig: { Arn: options.deadLetterArn } }),
  };
}

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
