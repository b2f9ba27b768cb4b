/**
 * `new Baton(stack, id, { tasks, ... })` in a project's own CDK app: what it deploys, what its
 * props change, and that exactly the given tasks module is bundled.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { App, type CfnResource, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as sns from "aws-cdk-lib/aws-sns";
import { describe, expect, it } from "vitest";
import { Baton, type BatonConstructProps } from "../../infra/index.ts";
import { ENV } from "../../shared/config.ts";
import { testApp } from "../support/cdk.ts";

const REPO = join(import.meta.dirname, "..", "..");
/** The project's root is this repository (whose node_modules the bundle is built from). */
const TASKS = "test/support/fixture-project/src/tasks.ts";

/** A stack of a project's app with Baton in it; bundling skipped unless asked for. */
function projectStack(props: Partial<BatonConstructProps> = {}, options: { bundle?: boolean } = {}) {
  const app = options.bundle ? testApp() : new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new Stack(app, "MyTasks");
  const baton = new Baton(stack, "Baton", {
    tasks: TASKS,
    projectRoot: REPO,
    ...props,
  });
  return { stack, baton, template: Template.fromStack(stack) };
}

describe("the Baton construct in a project's stack", () => {
  it("bundles exactly the given tasks module into the worker and the api", () => {
    const { stack, baton } = projectStack({}, { bundle: true });
    const entry = readFileSync(baton.lambdaEntry, "utf8");
    expect(entry).toContain(`import * as tasks from "../../../${TASKS}"`);
    expect(entry).toContain(`lambdaHandlers(tasks, "${TASKS}")`);
    const assembly = stack.node.root as App;
    const out = assembly.synth();
    const resources = out.getStackByName("MyTasks").template.Resources as Record<
      string,
      { Type: string; Properties: { Handler?: string; Code?: { S3Key?: string } } }
    >;
    for (const handler of ["index.worker", "index.api"]) {
      const fn = Object.values(resources).find((r) => r.Properties.Handler === handler);
      const key = fn?.Properties.Code?.S3Key?.replace(/\.zip$/, "");
      const bundle = readFileSync(join(out.directory, `asset.${key}`, "index.mjs"), "utf8");
      expect(bundle).toContain("Hello from the fixture project");
      // This repository's examples are not the project's handlers.
      expect(bundle).not.toContain("notify-signups");
    }
  }, 120_000);

  it("deploys what the Baton stack deploys, named after the project's stack", () => {
    const { template } = projectStack();
    template.resourceCountIs("AWS::Lambda::Function", 5);
    template.resourceCountIs("AWS::DynamoDB::Table", 8);
    template.resourceCountIs("AWS::ApiGatewayV2::Api", 1);
    template.resourceCountIs("AWS::SNS::Topic", 1);
    template.hasResourceProperties("AWS::Lambda::Function", { FunctionName: "MyTasks-trigger" });
    template.hasResourceProperties("AWS::Scheduler::ScheduleGroup", { Name: "MyTasks-baton" });
    template.hasOutput("*", { Value: Match.anyValue() });
  });

  it("safe defaults: retained data, 90 days, 100 workers per queue, batches of 10", () => {
    const { template } = projectStack();
    template.allResourcesProperties("AWS::DynamoDB::Table", { DeletionProtectionEnabled: true });
    for (const table of Object.values(template.findResources("AWS::DynamoDB::Table"))) {
      expect(table.DeletionPolicy).toBe("Retain");
    }
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 10,
      ScalingConfig: { MaximumConcurrency: 100 },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.worker",
      Environment: { Variables: Match.objectLike({ [ENV.runRetentionDays]: "90" }) },
    });
  });

  it("props tune concurrency, batch size, retention, names, removal, throttling and the alarm topic", () => {
    const { template } = projectStack({
      workerMaxConcurrency: 20,
      workerBatchSize: 1,
      retentionDays: 7,
      namePrefix: "acme-jobs",
      removalPolicy: RemovalPolicy.DESTROY,
      apiThrottle: { rateLimit: 50, burstLimit: 20 },
      queueAgeAlarmThreshold: Duration.minutes(10),
    });
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.worker",
      Environment: {
        Variables: Match.objectLike({ [ENV.runRetentionDays]: "7", [ENV.serviceName]: "acme-jobs" }),
      },
    });
    template.hasResourceProperties("AWS::Lambda::Function", { FunctionName: "acme-jobs-trigger" });
    for (const table of Object.values(template.findResources("AWS::DynamoDB::Table"))) {
      expect(table.DeletionPolicy).toBe("Delete");
    }
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 20 },
    });

    // A given topic takes every alarm and none is created.
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new Stack(app, "WithTopic");
    const ops = new sns.Topic(stack, "Ops");
    new Baton(stack, "Baton", {
      tasks: TASKS,
      projectRoot: REPO,
      alarmTopic: ops,
    });
    const withTopic = Template.fromStack(stack);
    withTopic.resourceCountIs("AWS::SNS::Topic", 1);
    const opsId = stack.getLogicalId(ops.node.defaultChild as never);
    const alarms = Object.values(withTopic.findResources("AWS::CloudWatch::Alarm"));
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: opsId }]);
  });

  it("exports traces only when asked: every function gets the OTLP endpoint, none by default", () => {
    const functions = (template: Template) =>
      Object.values(template.findResources("AWS::Lambda::Function")).filter(
        (fn) => fn.Properties.Environment?.Variables?.[ENV.serviceName] !== undefined,
      );
    const untraced = functions(projectStack().template);
    expect(untraced.length).toBeGreaterThanOrEqual(5);
    for (const fn of untraced)
      expect(fn.Properties.Environment.Variables.OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    const traced = functions(
      projectStack({ tracing: { endpoint: "http://localhost:4318", headers: "x-api-key=abc" } }).template,
    );
    expect(traced.length).toBe(untraced.length);
    for (const fn of traced) {
      expect(fn.Properties.Environment.Variables).toMatchObject({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://localhost:4318",
        OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=abc",
      });
    }
  });

  it("refuses a tasks module that does not exist, at synth", () => {
    expect(() => projectStack({ tasks: "src/missing.ts" })).toThrow(
      /tasks module .*missing\.ts does not exist/,
    );
  });
});

describe("the events URL", () => {
  const { stack, baton, template } = projectStack();
  const eventsId = stack.getLogicalId(baton.eventsFunction.node.defaultChild as CfnResource);

  it("streams: a function URL in RESPONSE_STREAM mode on the events function, its URL an output", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.events",
      // Longer than a stream's 5-minute maximum, so a stream always ends with its closing comment.
      Timeout: 360,
      ReservedConcurrentExecutions: 20,
    });
    template.resourceCountIs("AWS::Lambda::Url", 1);
    template.hasResourceProperties("AWS::Lambda::Url", {
      TargetFunctionArn: { "Fn::GetAtt": [eventsId, "Arn"] },
      InvokeMode: "RESPONSE_STREAM",
      // Baton's keys and read tokens are checked by the handler, as the api checks them.
      AuthType: "NONE",
      Cors: {
        AllowOrigins: ["*"],
        AllowMethods: ["GET"],
        AllowHeaders: ["authorization", "last-event-id"],
      },
    });
    // No cookies ride along: a credentialed CORS answer would let any site use a visitor's session.
    const url = Object.values(template.findResources("AWS::Lambda::Url"))[0];
    expect(url?.Properties.Cors.AllowCredentials).toBeUndefined();
    const outputs = Object.entries(template.findOutputs("*")).filter(([id]) => id.includes("EventsUrl"));
    expect(outputs).toHaveLength(1);
    expect(outputs[0]?.[1].Value).toEqual({
      "Fn::GetAtt": [stack.getLogicalId(baton.eventsUrl.node.defaultChild as CfnResource), "FunctionUrl"],
    });
  });

  it("is named to the api, whose dashboard opens its run pages' streams there", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.api",
      Environment: {
        Variables: {
          [ENV.eventsUrl]: {
            "Fn::GetAtt": [
              stack.getLogicalId(baton.eventsUrl.node.defaultChild as CfnResource),
              "FunctionUrl",
            ],
          },
        },
      },
    });
  });

  it("reads runs and keys and writes nothing", () => {
    const role = stack.getLogicalId(baton.eventsFunction.role?.node.defaultChild as CfnResource);
    const statements = Object.values(template.findResources("AWS::IAM::Policy"))
      .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(role))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[]);
    const actions = statements.flatMap((statement) => [statement.Action].flat());
    expect(actions).toContain("dynamodb:GetItem");
    expect(actions).toContain("secretsmanager:GetSecretValue");
    // Its own log lines aside.
    const writes = actions.filter(
      (action) => !action.startsWith("logs:") && /Put|Update|Delete|Write|Send|Create/.test(action),
    );
    expect(writes).toEqual([]);
  });

  it("takes its reserved concurrency from the props and refuses a bad one at synth", () => {
    projectStack({ eventsReservedConcurrency: 3 }).template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.events",
      ReservedConcurrentExecutions: 3,
    });
    expect(() => projectStack({ eventsReservedConcurrency: 0 })).toThrow(/eventsReservedConcurrency/);
  });
});
