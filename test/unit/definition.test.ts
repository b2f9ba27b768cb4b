/**
 * What a task definition may be: its name rule, its limits and defaults, and when it is limited.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_CALLBACK_TIMEOUT_SECONDS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_TIMEOUT_SECONDS,
  isLimited,
  TaskDefinition,
  WORKFLOW_HANDLER,
} from "../../shared/core/definition.ts";
import { NAME_PATTERN, Name } from "../../shared/core/names.ts";
import { reportDefinition } from "../support/fixtures.ts";

const definition = reportDefinition({ createdAt: "t", updatedAt: "t" });

describe("definition names", () => {
  it.each(["a", "Report_2-x", "x".repeat(64)])("accept %s", (name) => {
    expect(NAME_PATTERN.test(name)).toBe(true);
    expect(Name.parse(name)).toBe(name);
  });

  it.each(["", "x".repeat(65), "has space", "a.b", "a/b"])("refuse %j with the rule", (name) => {
    const result = Name.safeParse(name);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      "must be 1-64 characters of letters, digits, '_' or '-' (no spaces)",
    );
  });
});

describe("TaskDefinition", () => {
  it("reads back every field it has", () => {
    const full = {
      ...definition,
      description: "d",
      maxConcurrency: 1,
      maxQueueLength: 0,
      mode: "callback",
      callbackTimeoutSeconds: 604_800,
      kind: "workflow",
      steps: [{ id: "s", definition: "echo" }],
      schedule: { cron: "0 2 * * *", timezone: "UTC", params: { a: 1 } },
    };
    expect(TaskDefinition.parse(full)).toStrictEqual(full);
    expect(TaskDefinition.parse({ ...full, mode: "sync", kind: "task" })).toMatchObject({
      mode: "sync",
      kind: "task",
    });
  });

  it.each([
    ["no attempts", { maxAttempts: 0 }],
    ["21 attempts", { maxAttempts: 21 }],
    ["a timeout past 14 minutes", { timeoutSeconds: 841 }],
    ["a concurrency of 0", { maxConcurrency: 0 }],
    ["a negative waiting line", { maxQueueLength: -1 }],
    ["a callback timeout past 7 days", { callbackTimeoutSeconds: 604_801 }],
    ["an unknown mode", { mode: "async" }],
    ["an unknown kind", { kind: "job" }],
    ["a bad name", { name: "a b" }],
  ])("refuses %s", (_what, change) => {
    expect(TaskDefinition.safeParse({ ...definition, ...change }).success).toBe(false);
  });

  it("has these defaults", () => {
    expect(DEFAULT_MAX_ATTEMPTS).toBe(3);
    expect(DEFAULT_TIMEOUT_SECONDS).toBe(600);
    expect(DEFAULT_CALLBACK_TIMEOUT_SECONDS).toBe(86_400);
    expect(WORKFLOW_HANDLER).toBe("workflow");
  });
});

describe("isLimited", () => {
  it("is true when either limit is set, zero included", () => {
    expect(isLimited({ maxConcurrency: 1 })).toBe(true);
    expect(isLimited({ maxQueueLength: 0 })).toBe(true);
    expect(isLimited({ maxConcurrency: 2, maxQueueLength: 5 })).toBe(true);
  });

  it("is false with no limits at all", () => {
    expect(isLimited({})).toBe(false);
    expect(isLimited(undefined)).toBe(false);
  });
});
