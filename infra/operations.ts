/**
 * What an operator watches: one alarm per failure mode, each notifying one SNS topic, and a
 * dashboard of runs, queues, start latency and errors. docs/operations.md is the runbook: one
 * section per alarm, named by the alarm's id here.
 */
import { Aws, Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { TableName } from "../shared/aws/tables.ts";

/** The run metrics' namespace (shared/aws/emf-metrics.ts). */
const RUN_METRICS_NAMESPACE = "Baton";
const RUN_ENDS = ["RunsSucceeded", "RunsFailed", "RunsTimedOut", "RunsCancelled"] as const;
/** SQS and Lambda publish every minute; five minutes smooths the dashboard and the alarms. */
const PERIOD = Duration.minutes(5);
export const RUNBOOK = "docs/operations.md";

export interface BatonOperationsProps {
  topic: sns.ITopic;
  functions: Record<"api" | "worker" | "trigger" | "sweeper", lambda.IFunction>;
  /** The run queues: `fifo` (named queues) and `fair` (every other run). */
  runQueues: Record<"fifo" | "fair", sqs.IQueue>;
  delayQueue: sqs.IQueue;
  /** Every queue that only fills when something failed, by the name its alarm carries. */
  deadLetterQueues: Record<"run" | "fairRun" | "delay" | "schedule" | "asyncFailure", sqs.IQueue>;
  tables: [TableName, dynamodb.ITable][];
  /** The run metrics' `service` dimension (BATON_SERVICE_NAME). */
  serviceName: string;
  /** The sweeper's schedule: it is missed when a whole alarm period passes without one. */
  sweepInterval: Duration;
  /** How old the run queue's oldest message may grow before the backlog alarm. */
  queueAgeThreshold: Duration;
  /** Prefix of the dashboard's name. */
  namePrefix: string;
}

export class BatonOperations extends Construct {
  /** Every alarm, by its id (the runbook's section names). */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};
  readonly dashboard: cloudwatch.Dashboard;
  readonly #action: actions.SnsAction;

  constructor(scope: Construct, id: string, props: BatonOperationsProps) {
    super(scope, id);
    const { functions, deadLetterQueues } = props;
    const lanes = Object.entries(props.runQueues);
    this.#action = new actions.SnsAction(props.topic);

    const dlqMeaning: Record<keyof BatonOperationsProps["deadLetterQueues"], string> = {
      run: "a named queue's run message failed to be processed 50 times",
      fairRun: "a run message failed to be processed 50 times",
      delay: "a delayed start failed to reach the trigger 5 times",
      schedule: "EventBridge could not invoke the trigger (a schedule) or the sweeper (the sweep rule)",
      asyncFailure: "the trigger or the sweeper failed on an asynchronous invocation after Lambda's retries",
    };
    for (const [name, queue] of Object.entries(deadLetterQueues) as [keyof typeof dlqMeaning, sqs.IQueue][]) {
      this.#alarm(`${capitalize(name)}DeadLetterMessages`, {
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
        threshold: 1,
        description: `Messages wait in the ${name} dead-letter queue: ${dlqMeaning[name]}.`,
        // Both run queues' dead letters mean the same and are handled the same way.
        ...(name === "fairRun" ? { runbook: "RunDeadLetterMessages" } : {}),
      });
    }

    this.#alarm("RunQueueBacklog", {
      metric: new cloudwatch.MathExpression({
        expression: "MAX([fair, fifo])",
        label: "oldest run message (s)",
        period: PERIOD,
        usingMetrics: {
          fair: props.runQueues.fair.metricApproximateAgeOfOldestMessage({
            period: PERIOD,
            statistic: "Maximum",
          }),
          fifo: props.runQueues.fifo.metricApproximateAgeOfOldestMessage({
            period: PERIOD,
            statistic: "Maximum",
          }),
        },
      }),
      threshold: props.queueAgeThreshold.toSeconds(),
      description: `A run queue's oldest message is older than ${props.queueAgeThreshold.toHumanString()}: runs wait for workers, or one run keeps being retried.`,
    });

    for (const [name, fn] of Object.entries(functions)) {
      this.#alarm(`${capitalize(name)}Errors`, {
        metric: fn.metricErrors({ period: PERIOD, statistic: "Sum" }),
        threshold: 1,
        description: `The ${name} Lambda failed (an unhandled error, a timeout or a crash).`,
        runbook: "FunctionErrors",
      });
      this.#alarm(`${capitalize(name)}Throttles`, {
        metric: fn.metricThrottles({ period: PERIOD, statistic: "Sum" }),
        threshold: 1,
        description: `The ${name} Lambda was throttled: it, or the account, ran out of concurrency.`,
        runbook: "FunctionThrottles",
      });
    }

    for (const [name, table] of props.tables) {
      this.#alarm(`${capitalize(name)}TableThrottles`, {
        metric: new cloudwatch.MathExpression({
          expression: "reads + writes",
          usingMetrics: {
            reads: table.metric("ReadThrottleEvents", { period: PERIOD, statistic: "Sum" }),
            writes: table.metric("WriteThrottleEvents", { period: PERIOD, statistic: "Sum" }),
          },
          period: PERIOD,
          label: `${name} throttled requests`,
        }),
        threshold: 1,
        description: `DynamoDB throttled requests to the ${name} table.`,
        runbook: "TableThrottles",
      });
    }

    // No invocation at all in two periods: the rule is disabled or deleted, or EventBridge cannot
    // invoke the sweeper. Missing data is the symptom here, so it breaches.
    this.#alarm("SweeperNotRunning", {
      metric: functions.sweeper.metricInvocations({ period: PERIOD, statistic: "Sum" }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      description: `The sweeper (every ${props.sweepInterval.toHumanString()}) has not run for ${PERIOD.toMinutes() * 2} minutes: stuck runs are not repaired and overdue starts not started.`,
    });

    const runMetric = (metricName: string, statistic: string, label = metricName) =>
      new cloudwatch.Metric({
        namespace: RUN_METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: props.serviceName },
        statistic,
        period: PERIOD,
        label,
      });
    const fnMetrics = (metric: (fn: lambda.IFunction) => cloudwatch.Metric) =>
      Object.entries(functions).map(([name, fn]) => metric(fn).with({ label: name, period: PERIOD }));

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      // Dashboards are global to the account: the region keeps two regions' stacks apart.
      dashboardName: `${props.namePrefix}-${Aws.REGION}`,
      defaultInterval: Duration.hours(6),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Runs by status (started and ended, per 5 minutes)",
        left: [runMetric("RunsStarted", "Sum"), ...RUN_ENDS.map((name) => runMetric(name, "Sum"))],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Start latency (QueueWait: accepted to first claim)",
        left: [
          runMetric("QueueWait", "p50", "p50"),
          runMetric("QueueWait", "p90", "p90"),
          runMetric("QueueWait", "Maximum", "max"),
        ],
        leftYAxis: { label: "ms", showUnits: false },
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Queue depth",
        left: [
          ...lanes.flatMap(([lane, queue]) => [
            queue.metricApproximateNumberOfMessagesVisible({
              label: `${lane} run queue: waiting`,
              period: PERIOD,
            }),
            queue.metricApproximateNumberOfMessagesNotVisible({
              label: `${lane} run queue: in flight`,
              period: PERIOD,
            }),
          ]),
          props.delayQueue.metricApproximateNumberOfMessagesVisible({ label: "delay queue", period: PERIOD }),
          ...Object.entries(deadLetterQueues).map(([name, queue]) =>
            queue.metricApproximateNumberOfMessagesVisible({ label: `${name} DLQ`, period: PERIOD }),
          ),
        ],
        right: lanes.map(([lane, queue]) =>
          queue.metricApproximateAgeOfOldestMessage({
            label: `${lane} run queue: oldest (s)`,
            period: PERIOD,
            statistic: "Maximum",
          }),
        ),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: "Lambda errors and throttles",
        left: fnMetrics((fn) => fn.metricErrors({ statistic: "Sum" })),
        right: fnMetrics((fn) => fn.metricThrottles({ statistic: "Sum" })),
        leftYAxis: { label: "errors", showUnits: false },
        rightYAxis: { label: "throttles", showUnits: false },
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: "Lambda concurrency (maximum)",
        left: fnMetrics((fn) => fn.metric("ConcurrentExecutions", { statistic: "Maximum" })),
        width: 12,
      }),
      new cloudwatch.AlarmStatusWidget({
        title: `Alarms (runbook: ${RUNBOOK})`,
        alarms: Object.values(this.alarms),
        width: 12,
      }),
    );
  }

  #alarm(
    id: string,
    options: {
      metric: cloudwatch.IMetric;
      threshold: number;
      description: string;
      /** The runbook section, when one covers several alarms (every function's errors, say). */
      runbook?: string;
      comparisonOperator?: cloudwatch.ComparisonOperator;
      evaluationPeriods?: number;
      treatMissingData?: cloudwatch.TreatMissingData;
    },
  ): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      metric: options.metric,
      threshold: options.threshold,
      comparisonOperator:
        options.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      // No data means nothing happened (no errors, no messages): that is fine, except where said.
      treatMissingData: options.treatMissingData ?? cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `${options.description} Runbook: ${RUNBOOK}, section "${options.runbook ?? id}".`,
    });
    alarm.addAlarmAction(this.#action);
    alarm.addOkAction(this.#action);
    this.alarms[id] = alarm;
  }
}

function capitalize(name: string): string {
  return `${name[0]?.toUpperCase()}${name.slice(1)}`;
}
