/**
 * Children that must die with this process, whatever kills it. Node cannot ask the kernel to
 * signal a child when its parent dies, and a SIGKILL runs no handler here, so a tiny watchdog
 * process holds the read end of a pipe from us: when we die by any means the pipe reaches EOF,
 * and the watchdog kills the pids we registered with it (DynamoDB Local's Java process, which
 * would otherwise run on, holding its port and data folder).
 */
import { type ChildProcess, spawn } from "node:child_process";

// Plain JavaScript run with `node -e`, so it needs no file of its own and no loader.
const WATCHDOG = `
const pids = new Set();
let pending = "";
process.on("SIGINT", () => {}); // Ctrl-C reaches the whole group; the parent stops things itself.
process.on("SIGTERM", () => {});
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let end;
  while ((end = pending.indexOf("\\n")) >= 0) {
    const pid = Number(pending.slice(0, end));
    pending = pending.slice(end + 1);
    if (pid > 0) pids.add(pid);
    else if (pid < 0) pids.delete(-pid);
  }
});
const kill = (signal) => { for (const pid of pids) { try { process.kill(pid, signal); } catch {} } };
process.stdin.on("end", () => {
  kill("SIGTERM");
  setTimeout(() => { kill("SIGKILL"); process.exit(0); }, 3000);
});
process.stdin.on("error", () => process.stdin.emit("end"));
`;

export interface ChildWatchdog {
  /** Kill `pid` when this process dies. */
  guard(pid: number): void;
  /** `pid` ended (or was stopped) by us: forget it, so a reused pid is never killed. */
  release(pid: number): void;
  /** Stops the watchdog (it kills what is still guarded). */
  close(): void;
}

export function startChildWatchdog(): ChildWatchdog {
  const watchdog: ChildProcess = spawn(process.execPath, ["-e", WATCHDOG], {
    stdio: ["pipe", "ignore", "ignore"],
    // Never our loader flags (--import tsx…): the script is plain JavaScript.
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  watchdog.unref();
  const stdin = watchdog.stdin;
  // Neither the pipe nor the process keeps this process alive; both go when it exits.
  (stdin as unknown as { unref?: () => void } | null)?.unref?.();
  stdin?.on("error", () => undefined);
  const send = (line: string) => {
    if (stdin !== null && !stdin.destroyed) stdin.write(`${line}\n`);
  };
  return {
    guard: (pid) => send(String(pid)),
    release: (pid) => send(String(-pid)),
    close: () => stdin?.end(),
  };
}
