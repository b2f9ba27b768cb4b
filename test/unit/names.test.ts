/** The name rule is written once (shared/core/names.ts) and every copy or use of it agrees. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PutDefinitionBody, StartTaskBody } from "../../functions/api/schemas.ts";
import { ChainSpec } from "../../shared/core/chain.ts";
import { TaskDefinition } from "../../shared/core/definition.ts";
import { NAME_CHARS, NAME_PATTERN, Name } from "../../shared/core/names.ts";
import { Run } from "../../shared/core/run.ts";
import { resolveStepParams, WorkflowStep } from "../../shared/core/workflow.ts";

const GOOD = ["echo", "nightly-report_2", "A", "x".repeat(64)];
const BAD = ["", "no spaces", "dots.no", "x".repeat(65), "ünïcode", "slash/no"];

describe("the name rule", () => {
  it("takes 1-64 letters, digits, '_' and '-'", () => {
    for (const name of GOOD) expect(Name.safeParse(name).success, name).toBe(true);
    for (const name of BAD) expect(Name.safeParse(name).success, name).toBe(false);
  });

  it("is the rule of definition names, chain names, queues, workflow step ids and their references", () => {
    for (const name of BAD) {
      expect(StartTaskBody.safeParse({ definition: name }).success, name).toBe(false);
      expect(StartTaskBody.safeParse({ definition: "echo", queue: name }).success, name).toBe(false);
      expect(ChainSpec.safeParse({ name }).success, name).toBe(false);
      expect(WorkflowStep.safeParse({ id: name, definition: "echo" }).success, name).toBe(false);
      expect(WorkflowStep.safeParse({ id: "a", definition: name }).success, name).toBe(false);
      expect(WorkflowStep.safeParse({ id: "a", definition: "b", dependsOn: [name] }).success, name).toBe(
        false,
      );
    }
    const longest = "s".repeat(64);
    expect(resolveStepParams(`@Step.${longest}.out@`, { [longest]: { out: 7 } })).toBe(7);
    // One character past the rule is no reference: the text stays as it is.
    expect(resolveStepParams(`@Step.${longest}s.out@`, {})).toBe(`@Step.${longest}s.out@`);
  });

  it("has the same copy in the dashboard's start form (a browser script cannot import it)", () => {
    const script = readFileSync(new URL("../../functions/api/dashboard/start.js", import.meta.url), "utf8");
    const literal = /pattern: ("[^"]*")/.exec(script)?.[1];
    expect(literal).toBeDefined();
    const pattern = JSON.parse(literal ?? '""') as string;
    expect(pattern.replace("\\-", "-")).toBe(NAME_CHARS);
    // The browser compiles `pattern` with the v flag; it must accept and refuse what the API does.
    const browser = new RegExp(`^(?:${pattern})$`, "v");
    for (const name of [...GOOD, ...BAD]) expect(browser.test(name), name).toBe(NAME_PATTERN.test(name));
  });
});

describe("the workflow step shape", () => {
  const step = { id: "fetch", definition: "echo", params: { a: 1 }, dependsOn: ["other"] };

  it("is the one shape of the request body, the stored definition and the run's snapshot", () => {
    const body = PutDefinitionBody.parse({ kind: "workflow", steps: [step] });
    expect(body.steps).toEqual([step]);
    const definition = TaskDefinition.shape.steps.parse([step]);
    expect(definition).toEqual([step]);
    expect(Run.shape.workflowSteps.parse([step])).toEqual([step]);
    for (const bad of [
      { ...step, id: "no spaces" },
      { ...step, dependsOn: ["x y"] },
    ]) {
      expect(PutDefinitionBody.safeParse({ steps: [bad] }).success).toBe(false);
      expect(TaskDefinition.shape.steps.safeParse([bad]).success).toBe(false);
      expect(Run.shape.workflowSteps.safeParse([bad]).success).toBe(false);
    }
  });

  it("refuses unknown fields in a request, like every request body", () => {
    expect(PutDefinitionBody.safeParse({ steps: [{ ...step, retries: 3 }] }).success).toBe(false);
  });
});
