/**
 * The staged upgrade of a runs table deployed with the layout before issue #14's: CloudFormation,
 * like DynamoDB's UpdateTable, creates or deletes one global secondary index per table update and
 * cannot change an existing one in place, so each deploy of the documented sequence
 * (docs/PERFORMANCE.md "Upgrading") must differ from the one before by exactly one index, and
 * leave every other index exactly as it was.
 */
import { RemovalPolicy, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { batonApp } from "../../infra/baton-app.ts";
import { BatonTables } from "../../infra/tables.ts";
import { PREVIOUS_RUN_INDEXES, type PreviousRunIndex, TABLES } from "../../shared/aws/tables.ts";
import { testApp } from "../support/cdk.ts";

interface Gsi {
  IndexName: string;
  KeySchema: unknown;
  Projection: unknown;
}

/** The runs table's indexes by name, as the template gives them to CloudFormation. */
function runIndexesOf(template: Template): Map<string, Gsi> {
  const tables = template.findResources("AWS::DynamoDB::Table");
  const runs = Object.entries(tables).find(([id]) => id.startsWith("Tablesruns"));
  if (runs === undefined) throw new Error("no runs table in the template");
  const indexes = (runs[1].Properties.GlobalSecondaryIndexes ?? []) as Gsi[];
  return new Map(indexes.map((index) => [index.IndexName, index]));
}

function tablesKeeping(keep: readonly PreviousRunIndex[] | undefined): Map<string, Gsi> {
  const stack = new Stack(testApp(), "Tables");
  new BatonTables(stack, "Tables", { removalPolicy: RemovalPolicy.RETAIN, keepPreviousRunIndexes: keep });
  return runIndexesOf(Template.fromStack(stack));
}

/** What changes between two deploys: indexes created, deleted, or changed in place. */
function changes(before: Map<string, Gsi>, after: Map<string, Gsi>): string[] {
  const changed: string[] = [];
  for (const [name, index] of after) {
    const old = before.get(name);
    if (old === undefined) changed.push(`create ${name}`);
    else if (JSON.stringify(old) !== JSON.stringify(index)) changed.push(`change ${name}`);
  }
  for (const name of before.keys()) if (!after.has(name)) changed.push(`delete ${name}`);
  return changed;
}

describe("staged upgrade of the runs table's indexes", () => {
  const both = tablesKeeping(["byTenant", "byDefinition"]);
  const byTenantOnly = tablesKeeping(["byTenant"]);
  const current = tablesKeeping(undefined);
  // The stack as the previous layout deployed it: the first stage without the one index it adds.
  const previous = new Map([...both].filter(([name]) => name !== "byTenantShard"));

  it("the first stage is the previous layout plus byTenantShard, its old indexes unchanged", () => {
    expect([...previous.keys()].sort()).toEqual(
      [
        ...Object.keys(TABLES.runs.indexes).filter((name) => name !== "byTenantShard"),
        ...Object.keys(PREVIOUS_RUN_INDEXES),
      ].sort(),
    );
    expect(previous.get("byTenant")).toEqual({
      IndexName: "byTenant",
      KeySchema: [
        { AttributeName: "tenant", KeyType: "HASH" },
        { AttributeName: "createdKey", KeyType: "RANGE" },
      ],
      Projection: { ProjectionType: "KEYS_ONLY" },
    });
    expect(previous.get("byDefinition")?.KeySchema).toEqual([
      { AttributeName: "tenantDefinition", KeyType: "HASH" },
      { AttributeName: "createdKey", KeyType: "RANGE" },
    ]);
  });

  it("each deploy of the sequence changes exactly one index", () => {
    expect(changes(previous, both)).toEqual(["create byTenantShard"]);
    expect(changes(both, byTenantOnly)).toEqual(["delete byDefinition"]);
    expect(changes(byTenantOnly, current)).toEqual(["delete byTenant"]);
  });

  it("deploying the current layout straight over the previous one would change three (what fails)", () => {
    expect(changes(previous, current).sort()).toEqual([
      "create byTenantShard",
      "delete byDefinition",
      "delete byTenant",
    ]);
  });

  it("a new stack gets the current layout; a name that is no previous index is refused", () => {
    expect([...current.keys()].sort()).toEqual(Object.keys(TABLES.runs.indexes).sort());
    expect(() => tablesKeeping(["byStatus" as PreviousRunIndex])).toThrow(
      /not an index of the previous layout/,
    );
  });

  it("cdk deploy -c keepPreviousRunIndexes=byTenant,byDefinition reaches the tables", () => {
    const stack = batonApp({}, testApp({ keepPreviousRunIndexes: "byTenant,byDefinition" }));
    expect(changes(both, runIndexesOf(Template.fromStack(stack)))).toEqual([]);
  });
});
