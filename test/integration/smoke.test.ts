/** `npm run smoke`, the check a user runs against a deployed API, against the local stack. */
import { spawn } from "node:child_process";
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
