/**
 * The CDK app as `cdk synth`/`cdk deploy` builds it, from context (`-c key=value`) and the
 * environment. infra/app.ts runs it; the infra tests build it the same way.
 */
import { App, RemovalPolicy } from "aws-cdk-lib";
import { ENV } from "../shared/config.ts";
import { BATON_DEFAULTS, BatonStack } from "./baton-stack.ts";
import { runIndexUpgradeStageOf } from "./tables.ts";

/** The stack's name with no `stage`; `-c stage=prod` makes it `Baton-prod`. */
export const DEFAULT_STACK_NAME = "Baton";

export function batonApp(env: Record<string, string | undefined>, app = new App()): BatonStack {
  const text = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    if (value === undefined || value === "") return undefined;
    if (typeof value !== "string" && typeof value !== "number") {
      throw new Error(`context ${key} must be a string`);
    }
    return String(value);
  };
  const number = (key: string): number | undefined => {
    const value = text(key);
    if (value === undefined) return undefined;
    if (!/^\d+$/.test(value)) throw new Error(`context ${key} must be a whole number`);
    return Number(value);
  };
  if (text("fileTokenSecret") !== undefined || env[ENV.fileTokenSecret] !== undefined) {
    throw new Error(
      "the file token secret no longer goes into the template: the stack generates one in Secrets Manager, " +
        "or pass an existing secret's ARN with -c fileTokenSecretArn=...",
    );
  }
  const stage = text("stage");
  if (stage !== undefined && !/^[A-Za-z0-9-]+$/.test(stage)) {
    throw new Error("context stage may hold only letters, digits and hyphens");
  }
  const removal = text("removalPolicy");
  if (removal !== undefined && removal !== "retain" && removal !== "destroy") {
    throw new Error('context removalPolicy must be "retain" or "destroy"');
  }

  // `-c runIndexUpgradeStage=1` … `=5`: the staged upgrade of a runs table deployed with the layout
  // before issue #14's, one index change per deploy (docs/PERFORMANCE.md "Upgrading").
  if (text("keepPreviousRunIndexes") !== undefined) {
    throw new Error(
      "context keepPreviousRunIndexes is replaced by runIndexUpgradeStage (1 to 5), which also creates the new " +
        'indexes one at a time: see docs/PERFORMANCE.md "Upgrading" for the stage your table is at',
    );
  }
  const stageNumber = number("runIndexUpgradeStage");
  const runIndexUpgradeStage = stageNumber === undefined ? undefined : runIndexUpgradeStageOf(stageNumber);

  // Either half of the stage throttling may be given; the other keeps its default.
  const apiRateLimit = number("apiRateLimit");
  const apiBurstLimit = number("apiBurstLimit");
  const apiThrottle =
    apiRateLimit === undefined && apiBurstLimit === undefined
      ? undefined
      : {
          rateLimit: apiRateLimit ?? BATON_DEFAULTS.apiThrottle.rateLimit,
          burstLimit: apiBurstLimit ?? BATON_DEFAULTS.apiThrottle.burstLimit,
        };

  // No `env`: the stack stays environment-agnostic, so a synth without credentials writes
  // AWS::Region and AWS::AccountId, never the CLI's fallback region, into the template.
  const stack = new BatonStack(
    app,
    stage === undefined ? DEFAULT_STACK_NAME : `${DEFAULT_STACK_NAME}-${stage}`,
    {
      // This repository's handlers: the examples (a project of its own names its module here).
      tasks: "tasks/index.ts",
      rootKeySha256: text("rootKeySha256") ?? (env[ENV.rootKeySha256] || undefined),
      workerMaxConcurrency: number("workerMaxConcurrency"),
      workerBatchSize: number("workerBatchSize"),
      triggerMaxConcurrency: number("triggerMaxConcurrency"),
      apiReservedConcurrency: number("apiReservedConcurrency"),
      eventsReservedConcurrency: number("eventsReservedConcurrency"),
      apiThrottle,
      retentionDays: number("retentionDays"),
      removalPolicy: removal === "destroy" ? RemovalPolicy.DESTROY : undefined,
      runIndexUpgradeStage,
      fileTokenSecretArn: text("fileTokenSecretArn"),
      alarmTopicArn: text("alarmTopicArn"),
      ...(text("otlpEndpoint") === undefined
        ? {}
        : { tracing: { endpoint: text("otlpEndpoint") as string } }),
    },
  );
  return stack;
}
