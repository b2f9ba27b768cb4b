/**
 * The handler registry (which handlers exist, their params) and the domain errors with the codes
 * the API returns.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  BatonError,
  ConflictError,
  ForbiddenError,
  NonRetriableError,
  NotFoundError,
  PayloadTooLargeError,
  QueueFullError,
  UnauthorizedError,
  ValidationError,
} from "../../shared/core/errors.ts";
import { defineTask, HandlerRegistry, type TaskHandler } from "../../shared/core/task.ts";

const handler = (key: string, params?: z.ZodType<Record<string, unknown>>): TaskHandler => ({
  handler: key,
  ...(params === undefined ? {} : { params }),
  async run() {
    return key;
  },
});

describe("HandlerRegistry", () => {
  it("finds handlers by key and lists the keys in order", () => {
    const echo = handler("echo");
    const registry = new HandlerRegistry([handler("sleep"), echo, handler("fail")]);
    expect(registry.get("echo")).toBe(echo);
    expect(registry.get("nope")).toBeUndefined();
    expect(registry.keys()).toStrictEqual(["echo", "fail", "sleep"]);
  });

  it("names a key registered twice", () => {
    expect(() => new HandlerRegistry([handler("echo"), handler("echo")])).toThrow(
      'handler "echo" is registered twice',
    );
  });

  it("passes params through for a handler without a schema, or for no handler", () => {
    const registry = new HandlerRegistry([handler("echo")]);
    const params = { anything: [1] };
    expect(registry.parseParams("echo", params)).toBe(params);
    expect(registry.parseParams("nope", params)).toBe(params);
  });

  it("gives params as the schema parsed them, or every issue with its path", () => {
    const schema = z.object({ count: z.coerce.number().int(), nested: z.object({ name: z.string() }) });
    const registry = new HandlerRegistry([handler("typed", schema)]);
    expect(registry.parseParams("typed", { count: "2", nested: { name: "n" } })).toStrictEqual({
      count: 2,
      nested: { name: "n" },
    });
    let error: unknown;
    try {
      registry.parseParams("typed", { count: 1.5, nested: {} });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toBe('params do not match handler "typed"');
    expect((error as ValidationError).details).toStrictEqual([
      { path: "count", message: expect.any(String) },
      { path: "nested.name", message: expect.any(String) },
    ]);
  });

  it("keeps a task as it is declared", () => {
    const task = handler("echo");
    expect(defineTask(task)).toBe(task);
  });
});

describe("domain errors", () => {
  it.each([
    [ValidationError, "validation_failed"],
    [PayloadTooLargeError, "payload_too_large"],
    [NotFoundError, "not_found"],
    [ConflictError, "conflict"],
    [UnauthorizedError, "unauthorized"],
    [ForbiddenError, "forbidden"],
    [QueueFullError, "queue_full"],
  ])("%o carries its code and its own name", (ErrorClass, code) => {
    const error = new ErrorClass("said so");
    expect(error).toBeInstanceOf(BatonError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.name).toBe(ErrorClass.name);
    expect(error.message).toBe("said so");
    expect(error.details).toBeUndefined();
    expect(error.cause).toBeUndefined();
    expect("cause" in error).toBe(false);
  });

  it("keeps details and the cause when given", () => {
    const cause = new Error("under");
    const error = new ConflictError("over", { cause, details: { id: 1 } });
    expect(error.cause).toBe(cause);
    expect(error.details).toStrictEqual({ id: 1 });
    expect("cause" in new ConflictError("x", { details: 1 })).toBe(false);
  });

  it("lets a handler fail a run at once, by name", () => {
    const cause = new Error("under");
    const error = new NonRetriableError("no customer", { cause });
    expect(error.name).toBe("NonRetriableError");
    expect(error.message).toBe("no customer");
    expect(error.cause).toBe(cause);
    expect(error).not.toBeInstanceOf(BatonError);
  });
});
