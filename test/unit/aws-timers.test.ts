/**
 * The EventBridge Scheduler and SQS delay adapters, against clients that record what they are
 * sent: no Scheduler emulator runs here, so these pin the requests (expressions, names, payloads)
 * and the handling of "already there" / "already gone" answers.
 */
import type { SchedulerClient } from "@aws-sdk/client-scheduler";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { AwsDefinitionScheduler } from "../../shared/aws/aws-definition-scheduler.ts";
import { AwsRunTimer } from "../../shared/aws/aws-run-timer.ts";
import type { TaskDefinition } from "../../shared/core/definition.ts";

interface Sent {
  command: string;
  input: Record<string, unknown>;
}

function recordingClient(failWith?: Record<string, string>) {
  const sent: Sent[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name;
      sent.push({ command: name, input: command.input });
      const failure = failWith?.[name];
      if (failure !== undefined) {
        const error = new Error(failure);
        error.name = failure;
        throw error;
      }
      return {};
    },
  };
  return { client, sent };
}

const NOW = new Date("2026-05-01T12:00:00.000Z");
const options = {
  groupName: "baton",
  targetArn: "arn:aws:lambda:eu-west-1:1:function:t",
  roleArn: "arn:aws:iam::1:role/s",
  deadLetterArn: "arn:aws:sqs:eu-west-1:1:schedule-dlq",
};
/** Every schedule's target: retried for an hour at most, then into the dead-letter queue. */
const RETRIES = {
  RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 3600 },
  DeadLetterConfig: { Arn: options.deadLetterArn },
};

/** A run timer over recording clients, with the delay queue and a fixed clock. */
function runTimer(sqs: ReturnType<typeof recordingClient>, scheduler: ReturnType<typeof recordingClient>) {
  return new AwsRunTimer({
    ...options,
    sqs: sqs.client as unknown as SQSClient,
    scheduler: scheduler.client as unknown as SchedulerClient,
    delayQueueUrl: "https://sqs/delay",
    clock: { now: () => NOW },
  });
}

describe("AwsRunTimer", () => {
  it("sends delays up to 15 minutes through the delay queue, rounded up to whole seconds", async () => {
    const sqs = recordingClient();
    const scheduler = recordingClient();
    const timer = runTimer(sqs, scheduler);
    await timer.scheduleStart({ tenant: "acme", id: "r1" }, new Date(NOW.getTime() + 90_500));
    expect(sqs.sent).toEqual([
      {
        command: "SendMessageCommand",
        input: {
          QueueUrl: "https://sqs/delay",
          MessageBody: '{"kind":"start","tenant":"acme","runId":"r1"}',
          DelaySeconds: 91,
        },
      },
    ]);
    expect(scheduler.sent).toEqual([]);
  });

  it("schedules longer delays once with EventBridge Scheduler, deleting themselves after firing", async () => {
    const sqs = recordingClient();
    const scheduler = recordingClient({ CreateScheduleCommand: "ConflictException" });
    const timer = runTimer(sqs, scheduler);
    // A repeat of the same schedule (ConflictException) is what we want, not an error.
    await timer.scheduleStart({ tenant: "acme", id: "r1" }, new Date("2026-05-02T08:30:00.250Z"));
    const [create] = scheduler.sent;
    expect(create?.input).toMatchObject({
      GroupName: "baton",
      ScheduleExpression: "at(2026-05-02T08:30:01)",
      ScheduleExpressionTimezone: "UTC",
      ActionAfterCompletion: "DELETE",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: options.targetArn,
        RoleArn: options.roleArn,
        Input: '{"kind":"start","tenant":"acme","runId":"r1"}',
        ...RETRIES,
      },
    });
    expect(String(create?.input.Name)).toMatch(/^start-[0-9a-f]{40}$/);
    expect(sqs.sent).toEqual([]);
  });
});

describe("AwsDefinitionScheduler", () => {
  const definition: TaskDefinition = {
    tenant: "acme",
    name: "nightly",
    handler: "echo",
    params: {},
    maxAttempts: 3,
    timeoutSeconds: 60,
    schedule: { cron: "0 2 * * 1-5", timezone: "Europe/Berlin" },
    createdAt: "",
    updatedAt: "",
  };

  it("creates a recurring schedule, and updates it when it exists", async () => {
    const scheduler = recordingClient({ CreateScheduleCommand: "ConflictException" });
    await new AwsDefinitionScheduler({
      ...options,
      scheduler: scheduler.client as unknown as SchedulerClient,
    }).put(definition);
    expect(scheduler.sent.map((s) => s.command)).toEqual(["CreateScheduleCommand", "UpdateScheduleCommand"]);
    expect(scheduler.sent[1]?.input).toMatchObject({
      ScheduleExpression: "cron(0 2 ? * 2-6 *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
      // Scheduler fills in the scheduled time, which names the run: a retried firing is a repeat.
      Target: {
        Input:
          '{"kind":"cron","tenant":"acme","definition":"nightly","scheduledAt":"<aws.scheduler.scheduled-time>"}',
        ...RETRIES,
      },
    });
  });

  it("leaves the dead-letter queue out when none is configured", async () => {
    const scheduler = recordingClient();
    const { deadLetterArn: _none, ...withoutDlq } = options;
    await new AwsDefinitionScheduler({
      ...withoutDlq,
      scheduler: scheduler.client as unknown as SchedulerClient,
    }).put(definition);
    const target = scheduler.sent[0]?.input.Target as Record<string, unknown>;
    expect(target.DeadLetterConfig).toBeUndefined();
    expect(target.RetryPolicy).toEqual(RETRIES.RetryPolicy);
  });

  it("deletes the schedule when the definition loses it, and ignores one that is gone", async () => {
    const scheduler = recordingClient({ DeleteScheduleCommand: "ResourceNotFoundException" });
    const adapter = new AwsDefinitionScheduler({
      ...options,
      scheduler: scheduler.client as unknown as SchedulerClient,
    });
    const { schedule: _schedule, ...unscheduled } = definition;
    await adapter.put(unscheduled);
    await adapter.remove("acme", "nightly");
    expect(scheduler.sent.map((s) => s.command)).toEqual(["DeleteScheduleCommand", "DeleteScheduleCommand"]);
  });
});
