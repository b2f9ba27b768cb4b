/**
 * The small holes, tried the way an attacker would: values that merely look sealed, replayed and
 * forged tokens, other tenants' files, guessing keys. Through the real API on the emulators.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SEALED_PREFIX } from "../../shared/core/sealed.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
});
afterAll(async () => {
  await stack?.stop();
});

/** What a sealed value looks like, made up by the client: it must never be trusted. */
const spoofed = `${SEALED_PREFIX}${Buffer.from("not really sealed").toString("base64url")}`;

describe("a client value that merely looks sealed", () => {
  it("is refused in start params, at any depth, before anything is stored", async () => {
    for (const params of [{ password: spoofed }, { nested: { deep: [spoofed] } }]) {
      const response = await stack.request("POST", "/v1/tasks", { body: { definition: "echo", params } });
      expect(response.status, JSON.stringify(params)).toBe(400);
      expect(response.body.error).toBe("sealed_value_refused");
    }
    const list = await stack.request("GET", "/v1/tasks");
    expect(list.status).toBe(200);
    expect(list.body.items).toEqual([]);
  });

  it("is refused in a chain spec, encrypted or not, and in the async-TaskChain param", async () => {
    for (const body of [
      { definition: "echo", chain: { name: "next", params: [{ name: "password", value: spoofed }] } },
      {
        definition: "echo",
        chain: { name: "next", params: [{ name: "password", value: spoofed, encrypt: true }] },
      },
      {
        definition: "echo",
        params: { "async-TaskChain": [{ name: "next", params: [{ name: "p", value: spoofed }] }] },
      },
    ]) {
      const response = await stack.request("POST", "/v1/tasks", { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body.error).toBe("sealed_value_refused");
    }
  });

  it("is refused in a definition's default params", async () => {
    const put = await stack.request("PUT", "/v1/definitions/spoof", {
      body: { handler: "echo", params: { token: spoofed } },
    });
    expect(put.status).toBe(400);
    expect((await stack.request("GET", "/v1/definitions/spoof")).status).toBe(404);
  });
});
