import { CreateScheduleCommand, type SchedulerClient } from "@aws-sdk/client-scheduler";
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { Clock, RunTimer } from "../core/ports.ts";
import type { RunRef } from "../core/run.ts";
import { AWS_LIMITS, checkScheduleName, checkSqsBody, checkSqsDelay } from "./aws-limits.ts";
import {
  deleteScheduleIfAny,
  type ScheduleTargetOptions,
  scheduleName,
  scheduleTarget,
} from "./schedule-names.ts";

/** The payload the trigger Lambda receives, from the delay queue or from EventBridge Scheduler. */
export interface StartTrigger {
  kind: "start";
  tenant: string;
  runId: string;
}

/** The delay queue is a standard queue of SQS's default (and largest) message size. */
const DELAY_MESSAGE_BYTES = 1024 * 1024;

/**
 * Delayed starts on AWS: up to 15 minutes through a standard SQS queue with DelaySeconds (cheap,
 * precise to the second), longer through a one-time EventBridge Scheduler schedule that deletes
 * itself after it fired. Both reach the trigger Lambda, which starts the run if it is still
 * scheduled; the sweeper starts any the timers missed.
 */
export interface AwsRunTimerOptions extends ScheduleTargetOptions {
  sqs: SQSClient;
  scheduler: SchedulerClient;
  delayQueueUrl: string;
  groupName: string;
  clock: Clock;
}

export class AwsRunTimer implements RunTimer {
  readonly #options: AwsRunTimerOptions;

  constructor(options: AwsRunTimerOptions) {
    checkScheduleName(options.groupName);
    this.#options = options;
  }

  async scheduleStart(run: RunRef, at: Date): Promise<void> {
    const { sqs, scheduler, clock } = this.#options;
    const payload: StartTrigger = { kind: "start", tenant: run.tenant, runId: run.id };
    const delaySeconds = Math.max(0, Math.ceil((at.getTime() - clock.now().getTime()) / 1000));
    // SQS holds a message back for at most 15 minutes; longer waits go to the Scheduler.
    if (delaySeconds <= AWS_LIMITS.sqsMaxDelaySeconds) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: this.#options.delayQueueUrl,
          MessageBody: checkSqsBody(JSON.stringify(payload), DELAY_MESSAGE_BYTES),
          DelaySeconds: checkSqsDelay(delaySeconds),
        }),
      );
      return;
    }
    try {
      await scheduler.send(
        new CreateScheduleCommand({
          Name: scheduleName("start", run.tenant, run.id),
          GroupName: this.#options.groupName,
          // at() takes whole seconds without a zone; the zone is given separately.
          ScheduleExpression: `at(${new Date(Math.ceil(at.getTime() / 1000) * 1000).toISOString().slice(0, 19)})`,
          ScheduleExpressionTimezone: "UTC",
          FlexibleTimeWindow: { Mode: "OFF" },
          ActionAfterCompletion: "DELETE",
          Target: scheduleTarget(this.#options, payload),
        }),
      );
    } catch (error) {
      // Scheduled already (a retried start): one schedule is what we want.
      if (!(error instanceof Error && error.name === "ConflictException")) throw error;
    }
  }

  async cancelStart(run: RunRef): Promise<void> {
    // A short delay has no schedule, and a fired one deleted itself: nothing to cancel then.
    await deleteScheduleIfAny(
      this.#options.scheduler,
      this.#options.groupName,
      scheduleName("start", run.tenant, run.id),
    );
  }
}

/**
 * Locally the scheduled runs themselves are the timers: they are persisted in DynamoDB, and the
 * local runtime's loop starts those that are due (startDueRuns). Nothing else to register.
 */
export const polledRunTimer: RunTimer = {
  async scheduleStart() {},
  async cancelStart() {},
};
