/**
 * cdk-nag's AwsSolutions and Serverless packs over the app as `cdk synth` builds it: no finding
 * may stand unless infra/nag.ts acknowledges it, with its reason. A new resource or grant that
 * trips a rule fails here until it is fixed or acknowledged.
 */
import { type PolicyValidationPluginReport, Validations } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { batonApp } from "../../infra/baton-app.ts";
import { testApp } from "../support/cdk.ts";

/** Each finding as `rule at construct path`, so a failure says what to fix. */
function findings(report: PolicyValidationPluginReport): string[] {
  return report.violations.flatMap((violation) =>
    violation.violatingResources.map(
      (resource) => `${violation.severity} ${violation.ruleName} at ${resource.constructPath}`,
    ),
  );
}

/** Every acknowledgment under the scope, with its reason. */
function acknowledgments(scope: IConstruct): { id: string; reason: string }[] {
  return scope.node
    .findAll()
    .flatMap((construct) => construct.node.metadata)
    .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((entry) =>
      Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({ id, reason })),
    );
}

const apps = {
  // What `npx cdk synth` builds with no context.
  default: () => batonApp({}, testApp()),
  // A second stage, with an existing secret and topic, meant to be thrown away.
  "a stage with imports, removal DESTROY": () =>
    batonApp(
      {},
      testApp({
        stage: "dev",
        fileTokenSecretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:baton-AbCdEf",
        alarmTopicArn: "arn:aws:sns:eu-west-1:111122223333:ops",
        removalPolicy: "destroy",
      }),
    ),
};

describe.each(Object.entries(apps))("cdk-nag over the app (%s)", (_, build) => {
  const stack = build();

  it.each([
    ["AwsSolutions", () => new AwsSolutionsChecks()],
    ["Serverless", () => new ServerlessChecks()],
  ] as const)("%s: no unacknowledged error or warning", (_pack, pack) => {
    expect(findings(pack().validateScope(stack))).toEqual([]);
  });

  it("every acknowledgment carries its reason", () => {
    const acknowledged = acknowledgments(stack);
    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { id, reason } of acknowledged) {
      expect(id).toMatch(/(AwsSolutions|Serverless)-/);
      expect(reason.length, id).toBeGreaterThan(40);
    }
  });
});

describe("the packs are really run", () => {
  it("report what nothing acknowledges: a bucket added with none of Baton's settings", () => {
    const stack = batonApp({}, testApp());
    new s3.Bucket(stack, "Unreviewed");
    const reported = findings(new AwsSolutionsChecks().validateScope(stack));
    expect(reported).toContain("error AwsSolutions-S1 at Baton/Unreviewed/Resource");
    expect(reported).toContain("error AwsSolutions-S10 at Baton/Unreviewed/Resource");
    // Baton's own bucket stays acknowledged.
    expect(reported.filter((finding) => finding.includes("Baton/Files/"))).toEqual([]);
  });
});
