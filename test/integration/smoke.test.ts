/** `npm run smoke`, the check a user runs against a deployed API, against the local stack. */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { smoke } from "../../scripts/smoke.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

function npmSmoke(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "-s", "smoke", "--", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

describe("npm run smoke", () => {
  it("passes against a working stack: every step ok, exit code 0", async () => {
    const { code, output } = await npmSmoke(["--url", stack.url, "--key", stack.adminKey]);
    expect(output).toMatch(/ok +health/);
    expect(output).toMatch(/ok +run +succeeded in/);
    expect(output).toMatch(/ok +list/);
    expect(output).toContain("smoke test passed");
    expect(code).toBe(0);
  });

  it("fails with exit code 1 and names the step, here a key that is not an admin's", async () => {
    const { code, output } = await npmSmoke(["--url", stack.url, "--key", stack.runnerKey]);
    expect(output).toMatch(/FAIL +key +the key's role is runner/);
    expect(output).not.toContain("smoke test passed");
    expect(code).toBe(1);
  });

  it("asks /health again when it is not ok, and fails the step after three answers that are not", async () => {
    // In front of the stack: /health answers 503 as many times as asked, everything else is passed on.
    let unhealthyAnswers = 0;
    let healthAsked = 0;
    const proxy = createServer(async (request, response) => {
      if (request.url === "/health" && healthAsked++ < unhealthyAnswers) {
        response.writeHead(503, { "content-type": "application/json" });
        response.end(JSON.stringify({ ok: false, dependencies: { runs: "timed out" } }));
        return;
      }
      const answer = await fetch(`${stack.url}${request.url}`, {
        method: request.method ?? "GET",
        headers: { authorization: request.headers.authorization ?? "" },
      });
      response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "" });
      response.end(await answer.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const healthLine = async (unhealthy: number) => {
      [unhealthyAnswers, healthAsked] = [unhealthy, 0];
      const lines: string[] = [];
      // A runner key: the key step fails right after health, so nothing else is started.
      await smoke({ url, key: stack.runnerKey, print: (line) => lines.push(line) });
      return { line: lines.find((line) => /health/.test(line)) ?? "", asked: healthAsked };
    };
    try {
      expect(await healthLine(2)).toEqual({ line: expect.stringMatching(/ok +health/), asked: 3 });
      expect(await healthLine(3)).toEqual({
        line: expect.stringMatching(/FAIL +health +GET \/health answered .*3 tries/),
        asked: 3,
      });
    } finally {
      proxy.close();
    }
  });

  it("fails when no worker runs the task: the run step times out and says what to look at", async () => {
    const lines: string[] = [];
    // An api whose worker never consumes the queue, like a deployment with a broken event source.
    const idle = await startTestStack({ runWorker: false });
    const passed = await smoke({
      url: idle.url,
      key: idle.adminKey,
      timeoutMs: 2_000,
      print: (line) => lines.push(line),
    }).finally(() => idle.stop());
    expect(passed).toBe(false);
    expect(lines.join("\n")).toMatch(/FAIL +run/);
  });

  it("refuses to start without a URL and key, with the usage", async () => {
    const { code, output } = await npmSmoke([]);
    expect(output).toContain("usage: npm run smoke -- --url");
    expect(code).toBe(2);
  });
});
