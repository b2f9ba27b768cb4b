import { describe, expect, it } from "vitest";
import { ValidationError } from "../../shared/core/errors.ts";
import { checkWorkflow, planWorkflow, resolveStepParams } from "../../shared/core/workflow.ts";

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
