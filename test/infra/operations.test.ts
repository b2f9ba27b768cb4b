/** Alarms, their topic, and the dashboard (infra/operations.ts), as the template has them. */
import { readFileSync } from "node:fs";
import { type CfnResource, Duration } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { BatonStack } from "../../infra/baton-stack.ts";
import { RUNBOOK } from "../../infra/operations.ts";
import { testApp } from "../support/cdk.ts";

const stack = new BatonStack(testApp(), "Baton");
const template = Template.fromStack(stack);
const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnResource);
const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
const topicRef = () => ({ Ref: logicalId(stack.alarmTopic) });

type AlarmProperties = Record<string, unknown> & {
  AlarmDescription: string;
  AlarmActions: unknown[];
  OKActions: unknown[];
};
const alarmProperties = (id: string): AlarmProperties => {
  const alarm = stack.operations.alarms[id];
  if (alarm === undefined) throw new Error(`no alarm ${id}`);
  return template.toJSON().Resources[logicalId(alarm)].Properties as AlarmProperties;
};

const FUNCTIONS = ["Api", "Worker", "Trigger", "Sweeper"];
const TABLES = ["Runs", "Definitions", "Tenants", "Keys", "Counters", "Chains", "Grants", "Destinations"];
const EXPECTED_ALARMS = [
  "RunDeadLetterMessages",
  "FairRunDeadLetterMessages",
  "DelayDeadLetterMessages",
  "ScheduleDeadLetterMessages",
  "AsyncFailureDeadLetterMessages",
  "RunQueueBacklog",
  ...FUNCTIONS.flatMap((fn) => [`${fn}Errors`, `${fn}Throttles`]),
  ...TABLES.map((table) => `${table}TableThrottles`),
  "SweeperNotRunning",
];

describe("alarms", () => {
  it("exist for every failure mode the runbook covers, and nothing else", () => {
    expect(Object.keys(stack.operations.alarms).sort()).toEqual([...EXPECTED_ALARMS].sort());
    template.resourceCountIs("AWS::CloudWatch::Alarm", EXPECTED_ALARMS.length);
  });

  it.each(EXPECTED_ALARMS)("%s notifies the alarm topic, going off and coming back", (id) => {
    const alarm = alarmProperties(id);
    expect(alarm.AlarmActions).toEqual([topicRef()]);
    expect(alarm.OKActions).toEqual([topicRef()]);
  });

  it.each(EXPECTED_ALARMS)("%s names a runbook section that docs/operations.md has", (id) => {
    const section = /section "([A-Za-z]+)"/.exec(alarmProperties(id).AlarmDescription)?.[1];
    expect(section).toBeDefined();
    const runbook = readFileSync(new URL(`../../${RUNBOOK}`, import.meta.url), "utf8");
    expect(runbook).toMatch(new RegExp(`^### ${section}\\b`, "m"));
  });

  it.each([
    ["RunDeadLetterMessages", () => stack.deadLetterQueue],
    ["FairRunDeadLetterMessages", () => stack.fairDeadLetterQueue],
    ["DelayDeadLetterMessages", () => stack.delayDeadLetterQueue],
    ["ScheduleDeadLetterMessages", () => stack.scheduleDeadLetterQueue],
    ["AsyncFailureDeadLetterMessages", () => stack.asyncFailureQueue],
  ] as const)("%s: any message in that queue", (id, queue) => {
    expect(alarmProperties(id)).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [logicalId(queue()), "QueueName"] } }],
      Statistic: "Maximum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      TreatMissingData: "notBreaching",
    });
  });

  it("RunQueueBacklog: either run queue's oldest message passes an hour (or the given age)", () => {
    const alarm = alarmProperties("RunQueueBacklog") as AlarmProperties & {
      Metrics: {
        Id: string;
        Expression?: string;
        MetricStat?: { Metric: { MetricName: string; Dimensions: unknown } };
      }[];
    };
    expect(alarm).toMatchObject({ Threshold: 3600, ComparisonOperator: "GreaterThanOrEqualToThreshold" });
    expect(alarm.Metrics.find((m) => m.Expression !== undefined)?.Expression).toBe("MAX([fair, fifo])");
    const ages = alarm.Metrics.filter((m) => m.MetricStat !== undefined);
    expect(ages.map((m) => m.MetricStat?.Metric.MetricName)).toEqual([
      "ApproximateAgeOfOldestMessage",
      "ApproximateAgeOfOldestMessage",
    ]);
    expect(ages.map((m) => m.MetricStat?.Metric.Dimensions)).toEqual(
      [stack.fairRunQueue, stack.runQueue].map((queue) => [
        { Name: "QueueName", Value: { "Fn::GetAtt": [logicalId(queue), "QueueName"] } },
      ]),
    );
    const patient = new BatonStack(testApp(), "Patient", { queueAgeAlarmThreshold: Duration.hours(3) });
    Template.fromStack(patient).hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmDescription: Match.stringLikeRegexp("RunQueueBacklog"),
      Threshold: 3 * 3600,
    });
  });

  it.each(
    FUNCTIONS.flatMap((fn) => [
      [`${fn}Errors`, fn, "Errors"],
      [`${fn}Throttles`, fn, "Throttles"],
    ]),
  )("%s: any %s Lambda %s in five minutes", (id, fn, metric) => {
    const functions: Record<string, IConstruct> = {
      Api: stack.apiFunction,
      Worker: stack.workerFunction,
      Trigger: stack.triggerFunction,
      Sweeper: stack.sweeperFunction,
    };
    expect(alarmProperties(id)).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: metric,
      Dimensions: [{ Name: "FunctionName", Value: ref(functions[fn] as IConstruct) }],
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
    });
  });

  it.each(TABLES)("%sTableThrottles: any read or write DynamoDB throttled on that table", (table) => {
    const construct = stack.tables.tables[table.toLowerCase() as keyof typeof stack.tables.tables];
    const metrics = alarmProperties(`${table}TableThrottles`).Metrics as Record<string, unknown>[];
    expect(metrics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Expression: "reads + writes", ReturnData: true }),
        ...["ReadThrottleEvents", "WriteThrottleEvents"].map((name) =>
          expect.objectContaining({
            MetricStat: expect.objectContaining({
              Metric: {
                Namespace: "AWS/DynamoDB",
                MetricName: name,
                Dimensions: [{ Name: "TableName", Value: ref(construct) }],
              },
              Stat: "Sum",
            }),
            ReturnData: false,
          }),
        ),
      ]),
    );
  });

  it("SweeperNotRunning: no sweeper invocation for ten minutes, missing data counting as none", () => {
    expect(alarmProperties("SweeperNotRunning")).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Invocations",
      Dimensions: [{ Name: "FunctionName", Value: ref(stack.sweeperFunction) }],
      Statistic: "Sum",
      Period: 300,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: "LessThanThreshold",
      TreatMissingData: "breaching",
    });
  });
});

describe("alarm topic", () => {
  it("is created when none is given, refuses plain HTTP, lets CloudWatch publish, and its ARN is exported", () => {
    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      Topics: [topicRef()],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
    // The topic's own policy replaces SNS's default, so CloudWatch needs its own allow.
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      Topics: [topicRef()],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Principal: { Service: "cloudwatch.amazonaws.com" },
            Action: "sns:Publish",
            Resource: topicRef(),
            Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
          }),
        ]),
      },
    });
    expect(template.toJSON().Outputs.AlarmTopicArn).toMatchObject({
      Value: topicRef(),
      Export: { Name: "Baton-AlarmTopicArn" },
    });
  });

  it("a given topic takes every alarm instead, and none is created", () => {
    const arn = "arn:aws:sns:eu-west-1:111122223333:ops-pager";
    const given = Template.fromStack(new BatonStack(testApp(), "Given", { alarmTopicArn: arn }));
    given.resourceCountIs("AWS::SNS::Topic", 0);
    const alarms = Object.values(given.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms).toHaveLength(EXPECTED_ALARMS.length);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([arn]);
    expect(given.toJSON().Outputs.AlarmTopicArn.Value).toBe(arn);
  });
});

describe("dashboard", () => {
  const body = () => {
    const dashboards = Object.values(template.findResources("AWS::CloudWatch::Dashboard"));
    expect(dashboards).toHaveLength(1);
    return JSON.stringify(dashboards[0]?.Properties.DashboardBody);
  };

  it("shows runs by status, from the run metrics of this stack's service", () => {
    for (const metric of ["RunsStarted", "RunsSucceeded", "RunsFailed", "RunsTimedOut", "RunsCancelled"]) {
      expect(body()).toContain(`\\"Baton\\",\\"${metric}\\",\\"service\\",\\"Baton\\"`);
    }
  });

  it("shows start latency (QueueWait percentiles), queue depth and errors", () => {
    expect(body()).toContain("QueueWait");
    expect(body()).toMatch(/\\"stat\\":\\"p90\\"/);
    expect(body()).toContain("ApproximateNumberOfMessagesVisible");
    expect(body()).toContain("ApproximateAgeOfOldestMessage");
    expect(body()).toContain('\\"AWS/Lambda\\",\\"Errors\\"');
    expect(body()).toContain('\\"AWS/Lambda\\",\\"Throttles\\"');
  });

  it("is named after the stack and the region (dashboards are global to an account)", () => {
    template.hasResourceProperties("AWS::CloudWatch::Dashboard", {
      DashboardName: { "Fn::Join": ["", ["Baton-", { Ref: "AWS::Region" }]] },
    });
  });
});
