/**
 * The small holes, tried the way an attacker would: values that merely look sealed, replayed and
 * forged tokens, other tenants' files, guessing keys. Through the real API on the emulators.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstrumentableClient } from "../../shared/aws/instrument.ts";
import { mintFileToken } from "../../shared/core/file-token.ts";
import { SEALED_PREFIX } from "../../shared/core/sealed.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
let globexKey: string;
const fileTokenSecret = "a-hostile-test-secret-long-enough-0123456789";

beforeAll(async () => {
  stack = await startTestStack({ fileTokenSecret });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
  await stack.request("PUT", "/v1/definitions/write-file", { body: { handler: "write-file" } });
  await stack.request("PUT", "/v1/chains/receive", { body: { definition: "echo" } });
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
  globexKey = (
    await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "admin" } })
  ).body.key;
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

/** GET without following the redirect. */
async function peek(path: string, key: string | null = null) {
  return (await stack.request("GET", path, { key, redirect: "manual" })).status;
}

async function finished(body: Record<string, unknown>) {
  const started = await stack.request("POST", "/v1/tasks", { body });
  return waitForEnd(stack, started.body.taskId);
}

describe("file tokens", () => {
  it("stop working when their run's file tokens are revoked; only the owner can revoke", async () => {
    const task = await finished({ definition: "write-file", params: { name: "a.txt", text: "a" } });
    const key = `acme/${task.taskId}/a.txt`;
    const leaked = mintFileToken(fileTokenSecret, { tenant: "acme", key }, new Date(Date.now() - 1_000));
    expect(await peek(`/v1/files/${leaked}`)).toBe(302);

    // Another tenant cannot revoke (nor learn the run exists).
    const foreign = await stack.request("DELETE", `/v1/tasks/${task.taskId}/file-tokens`, { key: globexKey });
    expect(foreign.status).toBe(404);
    expect(await peek(`/v1/files/${leaked}`)).toBe(302);

    expect((await stack.request("DELETE", `/v1/tasks/${task.taskId}/file-tokens`)).status).toBe(204);
    expect(await peek(`/v1/files/${leaked}`)).toBe(401);
    // A token minted after the revocation works again.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const fresh = mintFileToken(fileTokenSecret, { tenant: "acme", key }, new Date());
    expect(await peek(`/v1/files/${fresh}`)).toBe(302);
  });

  it("name the run's own file only: a handler output pointing at another run's file gets no token", async () => {
    const victim = await finished({ definition: "write-file", params: { name: "secret.txt", text: "s" } });
    // echo returns its params as output: the attacker sets FileKey to the victim run's file.
    const source = await stack.request("POST", "/v1/tasks", {
      body: {
        definition: "echo",
        params: { FileKey: `acme/${victim.taskId}/secret.txt` },
        chain: { name: "receive", params: [{ name: "download", value: "@FileToken@" }] },
      },
    });
    const outcome = await waitFor(async () => {
      const run = (await stack.request("GET", `/v1/tasks/${source.body.taskId}`)).body;
      return run.chainOutcomes?.[0];
    });
    expect(outcome).toMatchObject({ status: "failed", error: { code: "chain_param_error" } });
    expect(outcome.error.message).toContain("not a file of this run");
  });

  it("refuse keys that are not a run's file, even when signed", async () => {
    const task = await finished({ definition: "write-file", params: { name: "b.txt", text: "b" } });
    for (const key of [
      `acme/${task.taskId}/../${task.taskId}/b.txt`,
      `acme/${task.taskId}/sub/b.txt`,
      `acme/${task.taskId}`,
      `globex/${task.taskId}/b.txt`,
    ]) {
      const forged = mintFileToken(fileTokenSecret, { tenant: "acme", key }, new Date());
      expect(await peek(`/v1/files/${forged}`), key).toBe(401);
    }
  });
});

describe("the operator and a tenant's keys", () => {
  it("lists a tenant's keys without the keys, and revokes one (401 at once)", async () => {
    const issued = (
      await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "runner" } })
    ).body;
    const listed = await stack.request("GET", "/v1/tenants/globex/keys", { key: stack.rootKey });
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((k: { keyId: string }) => k.keyId)).toContain(issued.keyId);
    expect(JSON.stringify(listed.body)).not.toContain(issued.key);
    expect((await stack.request("GET", "/v1/tenant", { key: issued.key })).status).toBe(200);

    // A tenant admin cannot use the operator's routes, not even for its own tenant.
    expect((await stack.request("GET", "/v1/tenants/globex/keys", { key: globexKey })).status).toBe(403);
    expect(
      (await stack.request("DELETE", `/v1/tenants/globex/keys/${issued.keyId}`, { key: stack.adminKey }))
        .status,
    ).toBe(403);
    // The key id under the wrong tenant is not found, and stays valid.
    expect(
      (await stack.request("DELETE", `/v1/tenants/acme/keys/${issued.keyId}`, { key: stack.rootKey })).status,
    ).toBe(404);
    expect((await stack.request("GET", "/v1/tenant", { key: issued.key })).status).toBe(200);

    const revoked = await stack.request("DELETE", `/v1/tenants/globex/keys/${issued.keyId}`, {
      key: stack.rootKey,
    });
    expect(revoked.status).toBe(204);
    expect((await stack.request("GET", "/v1/tenant", { key: issued.key })).status).toBe(401);
    expect((await stack.request("GET", "/v1/tenants/nobody/keys", { key: stack.rootKey })).status).toBe(404);
  });
});

describe("failed authentications", () => {
  it("are rate limited per source: a guesser is refused with 429 before any key is looked at", async () => {
    // Its own stack, so the rest of this file keeps its budget.
    const limited = await startTestStack({ failedAuthLimits: { burst: 5, perSecond: 0.001 } });
    try {
      for (let guess = 0; guess < 5; guess += 1) {
        const wrong = await limited.request("GET", "/v1/tenant", { key: `bk_guess${guess}` });
        expect(wrong.status).toBe(401);
      }
      const refused = await limited.request("GET", "/v1/tenant", { key: "bk_guess6" });
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe("too_many_failed_authentications");
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      // Even the right key waits: the source, not the key, is limited.
      expect((await limited.request("GET", "/v1/tenant")).status).toBe(429);
      // Forged callback tokens count too.
      expect((await limited.request("POST", "/v1/callbacks", { key: null, body: {} })).status).toBe(429);
    } finally {
      await limited.stop();
    }
  });

  it("count forged callback tokens on their own", async () => {
    // A fresh budget spent on callbacks alone, so the 429 comes from their own failures.
    const limited = await startTestStack({ failedAuthLimits: { burst: 3, perSecond: 0.001 } });
    try {
      const forged = () =>
        limited.request("POST", "/v1/callbacks", {
          key: "not-a-callback-token",
          body: { taskId: "nothing", status: "SUCCESS" },
        });
      for (let guess = 0; guess < 3; guess += 1) expect((await forged()).status).toBe(401);
      expect((await forged()).status).toBe(429);
    } finally {
      await limited.stop();
    }
  });

  it("cost nothing when they succeed", async () => {
    const limited = await startTestStack({ failedAuthLimits: { burst: 2, perSecond: 0.001 } });
    try {
      for (let call = 0; call < 5; call += 1) {
        expect((await limited.request("GET", "/v1/tenant")).status).toBe(200);
      }
    } finally {
      await limited.stop();
    }
  });
});

describe("hostile bodies", () => {
  it("refuse JSON nested deeper than 64 levels with 400, before parsing", async () => {
    const deep = (levels: number) =>
      `{"definition": "echo", "params": {"a": ${"[".repeat(levels)}${"]".repeat(levels)}}}`;
    const refused = await stack.request("POST", "/v1/tasks", { raw: deep(100_000) });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain("64 levels");
    // Brackets inside strings are text, not nesting.
    const inString = await stack.request("POST", "/v1/tasks", {
      body: { definition: "echo", params: { text: "[".repeat(1_000) } },
    });
    expect(inString.status).toBe(202);
    expect((await stack.request("POST", "/v1/tasks", { raw: deep(60) })).status).toBe(202);
  });
});

describe("a platform failure", () => {
  it("is a 503 unavailable with Retry-After, never a 500, and /health names it", async () => {
    // The database stops answering (connection refused, after the SDK's retries).
    let down = false;
    const instrumentClient = (client: InstrumentableClient) => {
      client.middlewareStack.add(
        (next) => async (args) => {
          if (down && client.constructor.name.startsWith("DynamoDB")) {
            throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
          }
          return next(args);
        },
        { step: "finalizeRequest", name: "testDatabaseDown" },
      );
    };
    const failing = await startTestStack({ instrumentClient });
    try {
      down = true;
      for (const [method, path, body] of [
        ["GET", "/v1/tenant", undefined],
        ["GET", "/v1/tasks", undefined],
      ] as const) {
        const response = await failing.request(method, path, { body });
        expect(response.status, path).toBe(503);
        expect(response.body.error).toBe("unavailable");
        expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      }
      // /health says which dependency, and nothing about where it is (no endpoints, no table names).
      const health = await failing.request("GET", "/health", { key: null });
      expect(health.status).toBe(503);
      expect(Number(health.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(health.body).toEqual({
        error: "unavailable",
        message: "dynamodb did not answer; try again shortly",
        dependencies: { dynamodb: "unreachable", sqs: "ok", s3: "ok" },
      });
      down = false;
      expect((await failing.request("GET", "/v1/tenant")).status).toBe(200);
      // Its answer is kept for a moment; then it probes again and finds every dependency.
      const healthy = await waitFor(async () => {
        const answer = await failing.request("GET", "/health", { key: null });
        return answer.status === 200 ? answer : undefined;
      });
      expect(healthy.body).toEqual({
        ok: true,
        status: "ok",
        dependencies: { dynamodb: "ok", sqs: "ok", s3: "ok" },
      });
    } finally {
      down = false;
      await failing.stop();
    }
  });
});
