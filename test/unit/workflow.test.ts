import { describe, expect, it } from "vitest";
import { ValidationError } from "../../shared/core/errors.ts";
import {
  checkWorkflow,
  MAX_WORKFLOW_STEPS,
  planWorkflow,
  resolveStepParams,
  stepRunId,
  WorkflowStep,
} from "../../shared/core/workflow.ts";

const step = (id: string, dependsOn: string[] = []) => ({ id, definition: "echo", dependsOn });

describe("checkWorkflow", () => {
  it("orders fan-out and fan-in steps after their dependencies", () => {
    const order = checkWorkflow([
      step("report", ["a", "b"]),
      step("a", ["fetch"]),
      step("b", ["fetch"]),
      step("fetch"),
    ]);
    const position = (id: string) => order.findIndex((s) => s.id === id);
    expect(position("fetch")).toBe(0);
    expect(position("report")).toBe(3);
  });

  it.each([
    ["a cycle", [step("a", ["b"]), step("b", ["a"])], /cycle/],
    ["a self-dependency", [step("a", ["a"])], /cycle/],
    ["an unknown step", [step("a", ["ghost"])], /unknown step "ghost"/],
    ["a duplicate id", [step("a"), step("a")], /used twice/],
    ["no steps", [], /at least one/],
  ])("refuses %s", (_what, steps, message) => {
    expect(() => checkWorkflow(steps)).toThrow(ValidationError);
    expect(() => checkWorkflow(steps)).toThrow(message);
  });
});

describe("planWorkflow", () => {
  const steps = [step("fetch"), step("a", ["fetch"]), step("b", ["fetch"]), step("report", ["a", "b"])];

  it("starts roots, fans out, waits for every dependency to fan in, then succeeds", () => {
    expect(planWorkflow(steps, {})).toEqual({ kind: "start", steps: [steps[0]] });
    expect(planWorkflow(steps, { fetch: "succeeded" })).toMatchObject({
      kind: "start",
      steps: [{ id: "a" }, { id: "b" }],
    });
    expect(planWorkflow(steps, { fetch: "succeeded", a: "succeeded", b: "running" })).toEqual({
      kind: "wait",
    });
    expect(planWorkflow(steps, { fetch: "succeeded", a: "succeeded", b: "succeeded" })).toMatchObject({
      kind: "start",
      steps: [{ id: "report" }],
    });
    expect(
      planWorkflow(steps, { fetch: "succeeded", a: "succeeded", b: "succeeded", report: "succeeded" }),
    ).toEqual({ kind: "succeeded" });
  });

  it("fails as soon as any step failed, timed out or was cancelled", () => {
    expect(planWorkflow(steps, { fetch: "succeeded", a: "timed_out", b: "running" })).toEqual({
      kind: "failed",
      step: "a",
      status: "timed_out",
    });
  });
});

describe("resolveStepParams", () => {
  const outputs = { fetch: { url: "https://x/y.csv", rows: 120, meta: { region: "eu" } } };

  it("substitutes whole values with their type and text references as text, at any depth", () => {
    expect(
      resolveStepParams(
        {
          source: "@Step.fetch.url@",
          count: "@Step.fetch.rows@",
          note: "got @Step.fetch.rows@ rows",
          deep: ["@Step.fetch.meta.region@"],
        },
        outputs,
      ),
    ).toEqual({ source: "https://x/y.csv", count: 120, note: "got 120 rows", deep: ["eu"] });
  });

  it("names a missing output", () => {
    expect(() => resolveStepParams({ x: "@Step.fetch.nope@" }, outputs)).toThrow(/no output "nope"/);
    expect(() => resolveStepParams({ x: "@Step.other.url@" }, outputs)).toThrow(/step "other"/);
  });
});

describe("workflow rules, exactly", () => {
  it("names what is wrong", () => {
    const message = (steps: Parameters<typeof checkWorkflow>[0]) => {
      try {
        checkWorkflow(steps);
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(message([])).toBe("a workflow needs at least one step");
    expect(message([step("a"), step("a")])).toBe('step id "a" is used twice');
    expect(message([step("a", ["ghost"])])).toBe('step "a" depends on unknown step "ghost"');
    expect(message([step("root"), step("a", ["b", "root"]), step("b", ["a"])])).toBe(
      'the steps "a", "b" depend on each other in a cycle',
    );
  });

  it("allows 50 steps and refuses 51", () => {
    expect(MAX_WORKFLOW_STEPS).toBe(50);
    const chain = (count: number) =>
      Array.from({ length: count }, (_, i) => step(`s${i}`, i ? [`s${i - 1}`] : []));
    expect(checkWorkflow(chain(50)).map((s) => s.id)).toStrictEqual(chain(50).map((s) => s.id));
    expect(() => checkWorkflow(chain(51))).toThrow("a workflow has at most 50 steps");
  });

  it("orders steps given in reverse, and steps without dependsOn as roots", () => {
    const order = checkWorkflow([step("c", ["b"]), step("b", ["a"]), { id: "a", definition: "echo" }]);
    expect(order.map((s) => s.id)).toStrictEqual(["a", "b", "c"]);
  });

  it("checks step ids and definition names", () => {
    expect(WorkflowStep.parse({ id: "a-1_b", definition: "echo" })).toStrictEqual({
      id: "a-1_b",
      definition: "echo",
    });
    const bad = WorkflowStep.safeParse({ id: "has space", definition: "echo" });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe(
      "must be 1-64 characters of letters, digits, '_' or '-' (no spaces)",
    );
    expect(WorkflowStep.safeParse({ id: "a", definition: "x".repeat(65) }).success).toBe(false);
    expect(WorkflowStep.safeParse({ id: "a", definition: "" }).success).toBe(false);
    expect(WorkflowStep.safeParse({ id: "a", definition: "e.cho" }).success).toBe(false);
  });

  it("derives a step's run id from the workflow run and the step", () => {
    expect(stepRunId("wf1", "fetch")).toBe("wf1-e7d3799ecc09");
    expect(stepRunId("wf1", "fetch")).toBe(stepRunId("wf1", "fetch"));
    expect(stepRunId("wf1", "report")).not.toBe(stepRunId("wf1", "fetch"));
  });
});

describe("resolveStepParams, exactly", () => {
  const outputs = { fetch: { url: "u", rows: 120, meta: { region: "eu" }, list: [1] }, plain: "text" };

  it("passes through what holds no reference", () => {
    expect(resolveStepParams(7, outputs)).toBe(7);
    expect(resolveStepParams(null, outputs)).toBeNull();
    expect(resolveStepParams(true, outputs)).toBe(true);
    expect(resolveStepParams("no refs @ here", outputs)).toBe("no refs @ here");
    expect(resolveStepParams([1, "a", { b: [null] }], outputs)).toStrictEqual([1, "a", { b: [null] }]);
  });

  it("resolves whole references with their type and references in text as text", () => {
    expect(resolveStepParams("@Step.fetch.meta@", outputs)).toStrictEqual({ region: "eu" });
    expect(resolveStepParams("@Step.fetch.meta.region@", outputs)).toBe("eu");
    expect(resolveStepParams("x@Step.fetch.rows@", outputs)).toBe("x120");
    expect(resolveStepParams("@Step.fetch.rows@x", outputs)).toBe("120x");
    expect(resolveStepParams("@Step.fetch.url@ and @Step.fetch.meta@", outputs)).toBe(
      'u and {"region":"eu"}',
    );
    expect(resolveStepParams(["@Step.fetch.list@"], outputs)).toStrictEqual([[1]]);
  });

  it("names the step and the output that is missing", () => {
    expect(() => resolveStepParams("@Step.fetch.meta.zone@", outputs)).toThrow(
      '@Step.fetch.meta.zone@: step "fetch" has no output "meta.zone"',
    );
    expect(() => resolveStepParams("@Step.plain.length@", outputs)).toThrow(
      'step "plain" has no output "length"',
    );
    expect(() => resolveStepParams("@Step.fetch.toString@", outputs)).toThrow('has no output "toString"');
    expect(() => resolveStepParams("@Step.fetch.rows.x@", { fetch: { rows: null } })).toThrow(
      'has no output "rows.x"',
    );
    expect(() => resolveStepParams("see @Step.gone.x@", outputs)).toThrow(ValidationError);
  });
});

describe("planWorkflow, exactly", () => {
  it("fails on the first broken step, whatever its kind of failure", () => {
    for (const status of ["failed", "timed_out", "cancelled"] as const) {
      expect(planWorkflow([step("a"), step("b")], { a: "succeeded", b: status })).toStrictEqual({
        kind: "failed",
        step: "b",
        status,
      });
    }
  });

  it("waits while a step runs and none is ready", () => {
    expect(planWorkflow([step("a"), step("b", ["a"])], { a: "running" })).toStrictEqual({ kind: "wait" });
    expect(planWorkflow([step("a"), step("b", ["a"])], { a: "queued" })).toStrictEqual({ kind: "wait" });
  });

  it("starts steps without dependencies, and none that already started", () => {
    const steps = [step("a"), step("b"), { id: "c", definition: "echo" }];
    expect(planWorkflow(steps, { a: "running" })).toStrictEqual({
      kind: "start",
      steps: [steps[1], steps[2]],
    });
    expect(planWorkflow(steps, { a: "running", b: "pending" })).toStrictEqual({
      kind: "start",
      steps: [steps[1], steps[2]],
    });
  });

  it("does not succeed while a step is unaccounted for", () => {
    expect(planWorkflow([step("a"), step("b")], { a: "succeeded" })).toStrictEqual({
      kind: "start",
      steps: [step("b")],
    });
  });
});
