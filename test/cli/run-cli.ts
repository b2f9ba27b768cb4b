/** Runs the built `baton` binary as a child process, the way a person's shell would. */
import { execFile } from "node:child_process";
import { join } from "node:path";

export const BATON_BIN = join(import.meta.dirname, "..", "..", "dist", "cli", "baton.mjs");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runBaton(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  // Only what the test gives: no BATON_* from the machine running the tests.
  const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
  for (const [name, value] of Object.entries(options.env ?? {})) if (value !== undefined) env[name] = value;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BATON_BIN, ...args],
      { env, cwd: options.cwd, timeout: options.timeoutMs ?? 30_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
