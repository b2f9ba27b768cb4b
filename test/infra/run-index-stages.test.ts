/**
 * The staged upgrade of a runs table deployed with the layout before issue #14's: CloudFormation,
 * like DynamoDB's UpdateTable, creates or deletes one global secondary index per table update and
 * cannot change an existing one in place, so each deploy of the documented sequence
 * (docs/PERFORMANCE.md "Upgrading": `-c runIndexUpgradeStage=1` … `=4`, then a plain deploy) must
 * differ from the one before by exactly one index, and leave every other index exactly as it was.
 */
import { RemovalPolicy, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { batonApp } from "../../infra/baton-app.ts";
import { BatonTables, type RunIndexUpgradeStage } from "../../infra/tables.ts";
import { PREVIOUS_RUN_INDEXES, TABLES } from "../../shared/aws/tables.ts";
import { testApp } from "../support/cdk.ts";

interface Gsi {
  IndexName: string;
  KeySchema: unknown;
  Projection: unknown;
}

/** The runs table's indexes by name, in template order, as the template gives them to CloudFormation. */
function runIndexesOf(template: Template): Map<string, Gsi> {
  const tables = template.findResources("AWS::DynamoDB::Table");
  const runs = Object.entries(tables).find(([id]) => id.startsWith("Tablesruns"));
  if (runs === undefined) throw new Error("no runs table in the template");
  const indexes = (runs[1].Properties.GlobalSecondaryIndexes ?? []) as Gsi[];
  return new Map(indexes.map((index) => [index.IndexName, index]));
}

function tablesAt(stage: RunIndexUpgradeStage | undefined): Map<string, Gsi> {
  const stack = new Stack(testApp(), "Tables");
  new BatonTables(stack, "Tables", { removalPolicy: RemovalPolicy.RETAIN, runIndexUpgradeStage: stage });
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

const without = (indexes: Map<string, Gsi>, ...names: string[]) =>
  new Map([...indexes].filter(([name]) => !names.includes(name)));

describe("staged upgrade of the runs table's indexes", () => {
  const stages = ([1, 2, 3, 4, 5] as const).map((stage) => tablesAt(stage));
  const at = (stage: RunIndexUpgradeStage): Map<string, Gsi> => {
    const indexes = stages[stage - 1];
    if (indexes === undefined) throw new Error(`no stage ${stage}`);
    return indexes;
  };
  const current = tablesAt(undefined);
  // The stack as the previous layout deployed it: the first stage without the one index it adds
  // (the first test checks that this is that layout, index by index).
  const previous = without(at(1), "byWaitingLine");

  it("before the first stage is the previous layout: its three old indexes, the others as today", () => {
    expect([...previous.keys()].sort()).toEqual(
      [
        ...Object.keys(TABLES.runs.indexes).filter(
          (name) => name !== "byTenantShard" && name !== "byWaitingLine",
        ),
        "byTenant",
        "byDefinition",
        "byWaiting",
      ].sort(),
    );
    for (const [name, index] of previous) {
      if (!Object.hasOwn(PREVIOUS_RUN_INDEXES, name)) expect(index).toEqual(current.get(name));
    }
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
    expect(previous.get("byWaiting")).toEqual({
      IndexName: "byWaiting",
      KeySchema: [
        { AttributeName: "waitingFor", KeyType: "HASH" },
        { AttributeName: "createdKey", KeyType: "RANGE" },
      ],
      Projection: { ProjectionType: "INCLUDE", NonKeyAttributes: ["queue", "timeoutSeconds"] },
    });
  });

  it("each deploy of the sequence changes exactly one index: the new ones first, the waiting line first of all", () => {
    const sequence = [previous, ...stages, current];
    expect(
      sequence.slice(1).map((after, step) => changes(sequence[step] as Map<string, Gsi>, after)),
    ).toEqual([
      // Admission and promotion query byWaitingLine, so the functions the first deploy updates
      // need it; only listing queries byTenantShard (docs/PERFORMANCE.md "Upgrading").
      ["create byWaitingLine"],
      ["create byTenantShard"],
      ["delete byDefinition"],
      ["delete byTenant"],
      ["delete byWaiting"],
      // Stage 5 is the current layout: the plain deploy after stage 4 is the same template.
      [],
    ]);
  });

  it("the last stage is the current layout exactly, in the same order; a new stack gets it", () => {
    expect([...at(5)]).toEqual([...current]);
    expect([...current.keys()]).toEqual(Object.keys(TABLES.runs.indexes));
    expect(changes(at(4), current)).toEqual(["delete byWaiting"]);
  });

  it("deploying the current layout straight over the previous one would change five (what fails)", () => {
    expect(changes(previous, current).sort()).toEqual([
      "create byTenantShard",
      "create byWaitingLine",
      "delete byDefinition",
      "delete byTenant",
      "delete byWaiting",
    ]);
  });

  it("a stack on the layout between #14 and priorities (byTenantShard, byWaiting) is one change from stage 4", () => {
    const between = new Map([
      ...without(current, "byWaitingLine"),
      ["byWaiting", previous.get("byWaiting") as Gsi],
    ]);
    expect(changes(between, at(4))).toEqual(["create byWaitingLine"]);
  });

  it("cdk deploy -c runIndexUpgradeStage=… reaches the tables, from the command line or cdk.json", () => {
    const fromCli = batonApp({}, testApp({ runIndexUpgradeStage: "1" }));
    expect([...runIndexesOf(Template.fromStack(fromCli))]).toEqual([...at(1)]);
    const fromJson = batonApp({}, testApp({ runIndexUpgradeStage: 4 }));
    expect([...runIndexesOf(Template.fromStack(fromJson))]).toEqual([...at(4)]);
  });

  it("a stage that is none, or the replaced keepPreviousRunIndexes, is refused with what to do", () => {
    for (const bad of ["0", "6"]) {
      expect(() => batonApp({}, testApp({ runIndexUpgradeStage: bad }))).toThrow(
        /runIndexUpgradeStage must be a whole number from 1 to 5/,
      );
    }
    for (const bad of ["two", "1.5", "-1", "1,2"]) {
      expect(() => batonApp({}, testApp({ runIndexUpgradeStage: bad }))).toThrow(
        /context runIndexUpgradeStage must be a whole number/,
      );
    }
    expect(() => batonApp({}, testApp({ keepPreviousRunIndexes: "byTenant,byDefinition" }))).toThrow(
      /keepPreviousRunIndexes is replaced by runIndexUpgradeStage/,
    );
    expect(() => tablesAt(7 as RunIndexUpgradeStage)).toThrow(/from 1 to 5, not 7/);
  });
});
