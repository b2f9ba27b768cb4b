/** The `baton` binary (bundled to dist/cli/baton.mjs by scripts/build.mjs). */
import { runCli } from "./program.ts";

process.exitCode = await runCli(process.argv, {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
});
