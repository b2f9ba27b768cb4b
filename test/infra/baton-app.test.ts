/** The app as `cdk synth` builds it (infra/baton-app.ts): stages, context, and no fixed region. */
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { batonApp } from "../../infra/baton-app.ts";
import { ENV } from "../../shared/config.ts";
import { testApp } from "../support/cdk.ts";

/** Everything CloudFormation will create, without CDK's own metadata (which lists regions). */
function resourcesOf(
  template: Template,
): Record<string, { Type: string; Properties?: Record<string, unknown> }> {
  const { CDKMetadata: _metadata, ...resources } = template.toJSON().Resources;
  return resources;
}

describe("the app", () => {
  it("writes no region or account into the template, even where the CLI sets defaults", () => {
    // What `cdk synth` passes without credentials: a fallback region and no account.
    const stack = batonApp(
      { CDK_DEFAULT_REGION: "us-east-1", CDK_DEFAULT_ACCOUNT: "111122223333" },
      testApp(),
    );
    const json = JSON.stringify(resourcesOf(Template.fromStack(stack)));
    expect(json).not.toMatch(/us-east-1|111122223333/);
    expect(json).toContain('{"Ref":"AWS::Region"}');
    expect(json).toContain('{"Ref":"AWS::Partition"}');
    expect(stack.region).toMatch(/^\$\{Token/);
  });

  it("is the Baton stack, or Baton-<stage> with -c stage=<stage>", () => {
    expect(batonApp({}, testApp()).stackName).toBe("Baton");
    expect(batonApp({}, testApp({ stage: "prod" })).stackName).toBe("Baton-prod");
    expect(() => batonApp({}, testApp({ stage: "no spaces" }))).toThrow(/stage/);
  });

  it("two stages fit in one account and region: no name fixed before deployment is shared", () => {
    const names = (stage: string) => {
      const template = Template.fromStack(batonApp({}, testApp({ stage })));
      const fixed: string[] = [];
      for (const resource of Object.values(resourcesOf(template))) {
        const properties = resource.Properties ?? {};
        for (const key of ["FunctionName", "Name", "AliasName", "DashboardName", "TableName", "QueueName"]) {
          const value = properties[key];
          // A Ref or GetAtt names what CloudFormation made; only text (or text joined with the
          // region) is fixed before deployment.
          const reference =
            typeof value === "object" && value !== null && ("Ref" in value || "Fn::GetAtt" in value);
          if (value !== undefined && !reference) fixed.push(`${resource.Type} ${JSON.stringify(value)}`);
        }
      }
      for (const output of Object.values(template.toJSON().Outputs as Record<string, { Export?: unknown }>)) {
        if (output.Export !== undefined) fixed.push(`export ${JSON.stringify(output.Export)}`);
      }
      return fixed;
    };
    const dev = names("dev");
    const prod = names("prod");
    // The trigger function, the schedule group, the key alias, the dashboard and the export.
    expect(dev.length).toBeGreaterThanOrEqual(5);
    for (const name of dev) expect(prod).not.toContain(name);
  });

  it("passes context on to the stack's props", () => {
    const stack = batonApp(
      { [ENV.rootKeySha256]: "b".repeat(64) },
      testApp({ workerMaxConcurrency: "25", retentionDays: 30, apiReservedConcurrency: "40" }),
    );
    const template = Template.fromStack(stack);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      ScalingConfig: { MaximumConcurrency: 25 },
    });
    template.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.api",
      ReservedConcurrentExecutions: 40,
      Environment: { Variables: { [ENV.runRetentionDays]: "30", [ENV.rootKeySha256]: "b".repeat(64) } },
    });
    expect(() => batonApp({}, testApp({ workerMaxConcurrency: "many" }))).toThrow(/workerMaxConcurrency/);
  });

  it("takes the HTTP API's stage throttling from context, either half keeping its default", () => {
    const throttling = (context: Record<string, string>) => {
      const stages = Template.fromStack(batonApp({}, testApp(context))).findResources(
        "AWS::ApiGatewayV2::Stage",
      );
      return Object.values(stages)[0]?.Properties?.DefaultRouteSettings;
    };
    expect(throttling({ apiRateLimit: "50", apiBurstLimit: "20" })).toMatchObject({
      ThrottlingRateLimit: 50,
      ThrottlingBurstLimit: 20,
    });
    expect(throttling({ stage: "burst", apiBurstLimit: "1000" })).toMatchObject({
      ThrottlingRateLimit: 500,
      ThrottlingBurstLimit: 1000,
    });
    expect(() => batonApp({}, testApp({ apiRateLimit: "fast" }))).toThrow(/apiRateLimit/);
  });

  it("refuses a file token secret given as plain text, which would land in the template", () => {
    expect(() => batonApp({}, testApp({ fileTokenSecret: "s".repeat(32) }))).toThrow(/fileTokenSecretArn/);
    expect(() => batonApp({ [ENV.fileTokenSecret]: "s".repeat(32) }, testApp())).toThrow(
      /fileTokenSecretArn/,
    );
  });
});
