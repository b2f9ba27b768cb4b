/** Test helpers: a local stack on the shared emulators, and a small HTTP client for its API. */
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { type LocalStack, type LocalStackOptions, startLocalStack } from "../../local/stack.ts";
import { ensureTenantKey } from "../../shared/app/identity.ts";
import type { Log } from "../../shared/core/ports.ts";
import { newApiKey } from "../../shared/core/tenant.ts";
import { guardTerminalWrites } from "./terminal-write-guard.ts";
import { testRegistry } from "./test-tasks.ts";

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

export interface TestStack extends LocalStack {
  rootKey: string;
  /** An admin key of tenant "acme". */
  adminKey: string;
  /** A runner key of tenant "acme". */
  runnerKey: string;
  request(
    method: string,
    path: string,
    options?: {
      key?: string | null;
      body?: unknown;
      raw?: string;
      redirect?: "manual";
      headers?: Record<string, string>;
    },
  ): Promise<TestResponse>;
}

export interface TestResponse {
  status: number;
  /** The parsed JSON answer; the text of any other (the dashboard's page); null when empty. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  body: any;
  headers: Headers;
}

export function uniquePrefix(): string {
  return `t${randomBytes(4).toString("hex")}-`;
}

export async function startTestStack(options: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const rootKey = newApiKey().key;
  const stack = await startLocalStack({
    registry: testRegistry,
    endpoints: inject("endpoints"),
    prefix: uniquePrefix(),
    port: 0,
    rootKey,
    leaseSeconds: 5,
    // Every write of an ended status must come from the engine's endRun.
    wrapRunStore: guardTerminalWrites,
    flushIntervalMs: 100,
    // Tests call sweep() themselves, at the moment they mean to.
    sweepIntervalMs: 0,
    log: silentLog,
    ...options,
  });
  const adminKey = newApiKey().key;
  const runnerKey = newApiKey().key;
  await ensureTenantKey(stack.services, { tenant: "acme", role: "admin", key: adminKey });
  await ensureTenantKey(stack.services, { tenant: "acme", role: "runner", key: runnerKey });
  const request: TestStack["request"] = async (method, path, opts = {}) => {
    const key = opts.key === undefined ? adminKey : opts.key;
    const response = await fetch(`${stack.url}${path}`, {
      method,
      ...(opts.redirect === undefined ? {} : { redirect: opts.redirect }),
      headers: {
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        "content-type": "application/json",
        ...opts.headers,
      },
      ...(opts.raw !== undefined
        ? { body: opts.raw }
        : opts.body === undefined
          ? {}
          : { body: JSON.stringify(opts.body) }),
    });
    const text = await response.text();
    const isJson = response.headers.get("content-type")?.startsWith("application/json") ?? false;
    return {
      status: response.status,
      body: text === "" ? null : isJson ? JSON.parse(text) : text,
      headers: response.headers,
    };
  };
  return { ...stack, rootKey, adminKey, runnerKey, request };
}

/** Starts a task through the API (as tenant acme's admin) and returns its id; anything but 202 fails. */
export async function startTask(stack: TestStack, body: Record<string, unknown>): Promise<string> {
  const response = await stack.request("POST", "/v1/tasks", { body });
  if (response.status !== 202) {
    throw new Error(`start answered ${response.status}: ${JSON.stringify(response.body)}`);
  }
  return response.body.taskId;
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);

/** Waits until a task reaches a terminal status and returns its view. */
// biome-ignore lint/suspicious/noExplicitAny: the task view is JSON
export async function waitForEnd(stack: TestStack, taskId: string, timeoutMs = 20_000): Promise<any> {
  return waitFor(
    async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${taskId}`);
      return TERMINAL.has(body?.status) ? body : undefined;
    },
    timeoutMs,
    `task ${taskId} to end`,
  );
}
