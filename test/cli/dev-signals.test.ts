/**
 * Stopping `baton dev` by any signal stops everything it started: its child Node (local/main.ts),
 * DynamoDB Local's Java process, tsx's esbuild service and the watchdog. Linux only (reads /proc).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { isLive, liveChildren, liveProcessTree, startDev } from "./dev-process.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const onLinux = process.platform === "linux";

beforeAll(() => {
  execFileSync(process.execPath, ["scripts/build.mjs", "--no-types"], { cwd: ROOT });
});

/** Resolves once none of `pids` is alive; the test's own timeout is the only limit. */
async function allGone(pids: number[]): Promise<void> {
  while (pids.some(isLive)) await new Promise((resolve) => setTimeout(resolve, 200));
}

/** A started `baton dev` and every process under it (at least the child Node and Java). */
async function startedTree() {
  const dev = startDev(["--data-dir", mkdtempSync(join(tmpdir(), "baton-dev-signal-"))]);
  await dev.started;
  const pid = dev.child.pid ?? 0;
  const tree = liveProcessTree(pid);
  const commands = tree.map((each) => {
    try {
      return execFileSync("ps", ["-o", "comm=", "-p", String(each)], { encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  });
  expect(commands).toContain("java");
  return { dev, pid, tree };
}

it.runIf(onLinux)(
  "a SIGKILLed baton dev takes its emulators and child processes with it",
  async () => {
    const { dev, pid, tree } = await startedTree();
    process.kill(pid, "SIGKILL");
    await dev.exited;
    await allGone(tree);
    expect(tree.filter(isLive)).toEqual([]);
  },
  120_000,
);

it.runIf(onLinux)(
  "a SIGKILLed local stack process still takes DynamoDB Local with it",
  async () => {
    const { dev, pid, tree } = await startedTree();
    // The Node running local/main.ts, under the CLI: killed, it runs no handler at all.
    const [stackProcess] = liveChildren(pid);
    expect(stackProcess).toBeDefined();
    process.kill(stackProcess ?? 0, "SIGKILL");
    await dev.exited;
    await allGone(tree);
    expect(tree.filter(isLive)).toEqual([]);
  },
  120_000,
);
