/** GET /health on the in-memory adapters: what it answers, when it probes, what it keeps to itself. */
import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { Health, HealthUnavailable } from "../../functions/api/responses.ts";
import { apiRoutes } from "../../functions/api/routes.ts";
import { HEALTH_CHECK_DEFAULTS, healthCheck } from "../../shared/app/health.ts";
import { HandlerRegistry } from "../../shared/core/task.ts";
import { memoryServices } from "../../shared/memory/services.ts";

function setup() {
  const mem = memoryServices({ registry: new HandlerRegistry([]) });
  const route = apiRoutes(mem.svc).find((r) => r.method === "GET" && r.path === "/health");
  if (route === undefined) throw new Error("no GET /health route");
  const get = async () => {
    const result = await route.handler({} as APIGatewayProxyEventV2);
    return { ...result, json: JSON.parse(String(result.body)) };
  };
  return { mem, get };
}

describe("GET /health", () => {
  it("answers 200 with every dependency ok when all answer", async () => {
    const { get } = setup();
    const answer = await get();
    expect(answer.statusCode).toBe(200);
    expect(answer.headers?.["cache-control"]).toBe("no-store");
    expect(answer.json).toEqual({
      ok: true,
      status: "ok",
      dependencies: { dynamodb: "ok", sqs: "ok", s3: "ok" },
    });
    expect(Health.safeParse(answer.json).success).toBe(true);
  });

  it("answers 503 with Retry-After, naming what did not answer and nothing more", async () => {
    const { mem, get } = setup();
    mem.dependencies.down.add("sqs");
    const answer = await get();
    expect(answer.statusCode).toBe(503);
    expect(Number(answer.headers?.["retry-after"])).toBeGreaterThan(0);
    expect(answer.json).toEqual({
      error: "unavailable",
      message: "sqs did not answer; try again shortly",
      dependencies: { dynamodb: "ok", sqs: "unreachable", s3: "ok" },
    });
    expect(HealthUnavailable.safeParse(answer.json).success).toBe(true);
    // Why it failed goes to the log, for the operator; the open route says only which.
    const logged = mem.log.entries.find((entry) => entry.message === "a dependency failed its health probe");
    if (logged === undefined) throw new Error("the failed probe was not logged");
    expect(logged.fields.dependency).toBe("sqs");
    const reason = (logged.fields.error as Error).message;
    expect(reason).toContain("unavailable");
    expect(JSON.stringify(answer.json)).not.toContain(reason);
  });

  it("probes at most once per moment, however many ask, and probes again after it", async () => {
    const { mem, get } = setup();
    mem.dependencies.down.add("dynamodb");
    const answers = await Promise.all(Array.from({ length: 20 }, () => get()));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(503));
    expect(mem.dependencies.calls).toEqual({ dynamodb: 1, sqs: 1, s3: 1 });

    mem.dependencies.down.delete("dynamodb");
    mem.clock.advance(HEALTH_CHECK_DEFAULTS.cacheMs - 1);
    expect((await get()).statusCode).toBe(503); // the kept answer
    expect(mem.dependencies.calls.dynamodb).toBe(1);

    mem.clock.advance(1);
    expect((await get()).statusCode).toBe(200);
    expect(mem.dependencies.calls).toEqual({ dynamodb: 2, sqs: 2, s3: 2 });
  });
});

describe("healthCheck", () => {
  it("counts a dependency that never answers as unreachable once its time is up, and aborts it", async () => {
    const mem = memoryServices({ registry: new HandlerRegistry([]) });
    mem.dependencies.silent.add("s3");
    const check = healthCheck(mem.svc, { timeoutMs: 20, cacheMs: 1_000 });
    expect(await check()).toEqual({
      healthy: false,
      dependencies: { dynamodb: "ok", sqs: "ok", s3: "unreachable" },
    });
    // The silent probe was told to stop (its rejection is logged with the reason).
    await expect
      .poll(() => mem.log.entries.map((entry) => String((entry.fields.error as Error | undefined)?.message)))
      .toContain("no answer within 20 ms");
  });
});
