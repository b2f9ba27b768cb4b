/**
 * Whole Baton processes (api and worker, test/faults/stack-process.ts) on a test stack's tables
 * and queue, to be SIGKILLed. Bundled once with esbuild so each restart costs a Node start, not a
 * TypeScript compile.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import type { LocalStack } from "../../local/stack.ts";

const BUNDLE = join("node_modules", ".cache", "baton-faults", "stack-process.mjs");

/**
 * Written whole in one rename: two fault files run side by side, and one may spawn a child from
 * the bundle while the other rebuilds it.
 */
export async function bundleStackProcess(): Promise<void> {
  mkdirSync(join("node_modules", ".cache", "baton-faults"), { recursive: true });
  const result = await build({
    entryPoints: ["test/faults/stack-process.ts"],
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    outfile: BUNDLE,
    logLevel: "warning",
    write: false,
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error("esbuild wrote no bundle for test/faults/stack-process.ts");
  const temporary = `${BUNDLE}.${process.pid}.tmp`;
  writeFileSync(temporary, output.contents);
  renameSync(temporary, BUNDLE);
}

export interface ChildStack {
  process: ChildProcess;
  /** Its API address once it printed `ready`; undefined while it starts (or if it died first). */
  url: string | undefined;
  ready: Promise<string | undefined>;
  dead: boolean;
}

export function spawnChildStack(stack: LocalStack, leaseSeconds: number): ChildStack {
  const child = spawn(process.execPath, [BUNDLE], {
    env: {
      ...process.env,
      BATON_TEST_ENDPOINTS: JSON.stringify(stack.endpoints),
      BATON_TEST_PREFIX: stack.prefix,
      BATON_TEST_LEASE_SECONDS: String(leaseSeconds),
    },
    stdio: ["ignore", "pipe", "ignore"],
  });
  const handle: ChildStack = {
    process: child,
    url: undefined,
    ready: Promise.resolve(undefined),
    dead: false,
  };
  handle.ready = new Promise((resolve) => {
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /ready (\S+)/.exec(output);
      if (match !== null && handle.url === undefined) {
        handle.url = match[1];
        resolve(handle.url);
      }
    });
    child.once("exit", () => {
      handle.dead = true;
      handle.url = undefined;
      resolve(undefined);
    });
  });
  return handle;
}

export async function killChild(child: ChildStack): Promise<void> {
  if (child.dead) return;
  const exited = new Promise((resolve) => child.process.once("exit", resolve));
  child.url = undefined;
  child.process.kill("SIGKILL");
  await exited;
}
