/** Starting `baton dev` as a person's terminal would, and watching the processes it leaves. */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { BATON_BIN } from "./run-cli.ts";

export interface DevStarted {
  url: string;
  adminKey: string;
  dataDir: string;
  handlers: string[];
}

export interface DevProcess {
  child: ChildProcess;
  started: Promise<DevStarted>;
  /** Every JSON line printed so far. */
  lines: unknown[];
  /** Resolves with the first JSON line (after those already seen) that `match` accepts. */
  nextLine(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stderr(): string;
}

export function startDev(args: string[], options: { cwd?: string } = {}): DevProcess {
  const child = spawn(
    process.execPath,
    [BATON_BIN, "--json", "dev", "--port", "0", "--workers", "1", ...args],
    {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    },
  );
  let stderr = "";
  let stdout = "";
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{
    match: (line: Record<string, unknown>) => boolean;
    resolve: (line: Record<string, unknown>) => void;
    from: number;
  }> = [];
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  child.stdout?.on("data", (chunk) => {
    stdout += String(chunk);
    const parts = stdout.split("\n");
    stdout = parts.pop() ?? "";
    for (const part of parts) {
      if (!part.startsWith("{")) continue;
      lines.push(JSON.parse(part));
      for (const waiter of [...waiters]) {
        const found = lines.slice(waiter.from).find(waiter.match);
        if (found !== undefined) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(found);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const nextLine = (match: (line: Record<string, unknown>) => boolean) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      waiters.push({ match, resolve, from: lines.length });
      void exited.then((code) => reject(new Error(`baton dev exited ${code}: ${stderr}`)));
    });
  const started = nextLine((line) => typeof line.url === "string") as Promise<unknown> as Promise<DevStarted>;
  return { child, started, lines, nextLine, exited, stderr: () => stderr };
}

/** The live (not zombie) processes descended from `pid`, itself included, parents before children (Linux /proc). */
export function liveProcessTree(pid: number): number[] {
  return processTree(pid).map(({ pid: live }) => live);
}

/** `pid`'s live children. */
export function liveChildren(pid: number): number[] {
  return processTree(pid)
    .filter((process) => process.ppid === pid)
    .map((process) => process.pid);
}

function processTree(pid: number): Array<{ pid: number; ppid: number }> {
  const children = new Map<number, number[]>();
  const parents = new Map<number, number>();
  const live = new Set<number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses; the last ")" ends it.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const self = Number(entry);
    parents.set(self, Number(ppid));
    if (state !== "Z" && state !== "X") live.add(self);
    const siblings = children.get(Number(ppid)) ?? [];
    siblings.push(self);
    children.set(Number(ppid), siblings);
  }
  const tree: Array<{ pid: number; ppid: number }> = [];
  const visit = (at: number) => {
    if (live.has(at)) tree.push({ pid: at, ppid: parents.get(at) ?? 0 });
    for (const child of children.get(at) ?? []) visit(child);
  };
  visit(pid);
  return tree;
}

export function isLive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
