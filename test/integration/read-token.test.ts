/** Read tokens: a frontend reads one run with a short-lived token, and nothing else. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTenantKey } from "../../shared/app/identity.ts";
import { newApiKey } from "../../shared/core/tenant.ts";
import { startTestStack, type TestStack, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
const otherKey = newApiKey().key;

beforeAll(async () => {
  stack = await startTestStack();
  await ensureTenantKey(stack.services, { tenant: "read-other", role: "admin", key: otherKey });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
});
afterAll(async () => {
  await stack?.stop();
});

const start = async () =>
  (await stack.request("POST", "/v1/tasks", { body: { definition: "echo", params: { name: "Ada" } } })).body
    .taskId as string;

describe("read tokens", () => {
  it("read the one run they were issued for, as its owner sees it", async () => {
    const id = await start();
    const ended = await waitForEnd(stack, id);
    const issued = await stack.request("POST", `/v1/tasks/${id}/read-token`, { body: { seconds: 120 } });
    expect(issued.status).toBe(201);
    const { token, expiresAt } = issued.body;
    expect(token).toMatch(/^rt\./);
    const lifetime = Date.parse(expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(100_000);
    expect(lifetime).toBeLessThanOrEqual(121_000); // the expiry is rounded up to a whole second
    const read = await stack.request("GET", `/v1/tasks/${id}`, { key: token });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(ended);
    // No body: the default lifetime.
    expect((await stack.request("POST", `/v1/tasks/${id}/read-token`)).status).toBe(201);
  });

  it("read nothing else: not another run, not a list, not a write, not another tenant's", async () => {
    const id = await start();
    const other = await start();
    const { token } = (await stack.request("POST", `/v1/tasks/${id}/read-token`)).body;
    const elsewhere = await stack.request("GET", `/v1/tasks/${other}`, { key: token });
    expect(elsewhere.status).toBe(404);
    expect(elsewhere.body.message).not.toContain("echo");
    for (const [method, path, body] of [
      ["GET", "/v1/tasks", undefined],
      ["GET", `/v1/tasks/${id}/started`, undefined],
      ["POST", `/v1/tasks/${id}/cancel`, undefined],
      ["POST", `/v1/tasks/${id}/replay`, undefined],
      ["POST", `/v1/tasks/${id}/read-token`, undefined],
      ["PATCH", `/v1/tasks/${id}`, { subtext: "x" }],
      ["POST", "/v1/tasks", { definition: "echo" }],
      ["GET", "/v1/definitions", undefined],
    ] as const) {
      const answer = await stack.request(method, path, {
        key: token,
        ...(body === undefined ? {} : { body }),
      });
      expect(answer.status, `${method} ${path}`).toBe(401);
    }
    // Another tenant can neither issue one for this run nor learn that it exists.
    const foreign = await stack.request("POST", `/v1/tasks/${id}/read-token`, { key: otherKey });
    expect(foreign.status).toBe(404);
  });

  it("refuse a tampered token and a lifetime out of range", async () => {
    const id = await start();
    const { token } = (await stack.request("POST", `/v1/tasks/${id}/read-token`)).body as { token: string };
    const [payload = "", signature = ""] = token.slice(3).split(".");
    const forged = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    forged.t = "read-other";
    const tampered = `rt.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${signature}`;
    expect((await stack.request("GET", `/v1/tasks/${id}`, { key: tampered })).status).toBe(401);
    expect((await stack.request("GET", `/v1/tasks/${id}`, { key: `${token}x` })).status).toBe(401);
    for (const seconds of [0, 86_401, 1.5]) {
      const answer = await stack.request("POST", `/v1/tasks/${id}/read-token`, { body: { seconds } });
      expect(answer.status, String(seconds)).toBe(400);
    }
  });
});
