import { describe, expect, it } from "vitest";
import { z } from "zod";
import { configFromEnv } from "../../shared/config.ts";
import { ValidationError } from "../../shared/core/errors.ts";
import { defineTask, HandlerRegistry } from "../../shared/core/task.ts";
import { hashKey, keyIdOf, newApiKey } from "../../shared/core/tenant.ts";
import { minimalEnv } from "../support/config-env.ts";

describe("HandlerRegistry", () => {
  const typed = defineTask({
    handler: "typed",
    params: z.object({ count: z.number().int() }),
    async run(_ctx, params) {
      return params.count;
    },
  });

  it("refuses two handlers with one key", () => {
    expect(() => new HandlerRegistry([typed, typed])).toThrow(/registered twice/);
  });

  it("validates params against the handler's schema", () => {
    const registry = new HandlerRegistry([typed]);
    expect(registry.parseParams("typed", { count: 2 })).toEqual({ count: 2 });
    expect(() => registry.parseParams("typed", { count: "two" })).toThrow(ValidationError);
  });
});

describe("API keys", () => {
  it("are random, carry their id, and are stored only as a hash", () => {
    const a = newApiKey();
    const b = newApiKey();
    expect(a.key).not.toBe(b.key);
    expect(keyIdOf(a.key)).toBe(a.keyId);
    expect(hashKey(a.key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashKey(a.key)).not.toContain(a.key);
  });
});

describe("configFromEnv", () => {
  const env = minimalEnv();

  it("fills defaults and hashes a plain root key", () => {
    const config = configFromEnv({ ...env, BATON_ROOT_KEY: "an-operator-key-of-enough-length" });
    expect(config.leaseSeconds).toBe(30);
    expect(config.rootKeyHash).toBe(hashKey("an-operator-key-of-enough-length"));
  });

  it("keeps ended runs 90 days and names the service baton unless told otherwise", () => {
    expect(configFromEnv(env)).toMatchObject({ runRetentionDays: 90, serviceName: "baton" });
    expect(
      configFromEnv({ ...env, BATON_RUN_RETENTION_DAYS: "7", BATON_SERVICE_NAME: "Baton-prod" }),
    ).toMatchObject({ runRetentionDays: 7, serviceName: "Baton-prod" });
    expect(() => configFromEnv({ ...env, BATON_RUN_RETENTION_DAYS: "0" })).toThrow(
      /BATON_RUN_RETENTION_DAYS/,
    );
  });

  it("takes the file token secret as a value or as a secret's ARN, not both", () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:1:secret:baton-file-token-AbCdEf";
    expect(configFromEnv({ ...env, BATON_FILE_TOKEN_SECRET_ARN: arn })).toMatchObject({
      fileTokenSecretArn: arn,
    });
    expect(configFromEnv({ ...env, BATON_FILE_TOKEN_SECRET_ARN: arn }).fileTokenSecret).toBeUndefined();
    expect(() =>
      configFromEnv({ ...env, BATON_FILE_TOKEN_SECRET_ARN: arn, BATON_FILE_TOKEN_SECRET: "s".repeat(32) }),
    ).toThrow(/not both/);
  });

  it("passes the schedules' dead-letter queue along with the other timer settings", () => {
    const timers = {
      BATON_DELAY_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/delay",
      BATON_SCHEDULE_GROUP: "Baton-baton",
      BATON_TRIGGER_ARN: "arn:aws:lambda:eu-west-1:1:function:Baton-trigger",
      BATON_SCHEDULER_ROLE_ARN: "arn:aws:iam::1:role/scheduler",
    };
    expect(configFromEnv({ ...env, ...timers }).timers?.deadLetterArn).toBeUndefined();
    expect(
      configFromEnv({ ...env, ...timers, BATON_SCHEDULE_DLQ_ARN: "arn:aws:sqs:eu-west-1:1:dlq" }).timers,
    ).toMatchObject({ scheduleGroup: "Baton-baton", deadLetterArn: "arn:aws:sqs:eu-west-1:1:dlq" });
  });

  it("names every missing or bad variable at once", () => {
    expect(() => configFromEnv({ BATON_LEASE_SECONDS: "1" })).toThrow(
      /BATON_RUNS_TABLE[\s\S]*BATON_RUN_QUEUE_URL[\s\S]*BATON_LEASE_SECONDS/,
    );
  });
});
