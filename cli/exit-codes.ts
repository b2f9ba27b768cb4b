/** The CLI's exit codes (documented in `baton --help` and the README). */
export const ExitCode = {
  ok: 0,
  /** `watch`, `start --watch`: the run ended failed, timed_out or cancelled. */
  runNotSucceeded: 1,
  /** Bad command line: unknown command or flag, bad value, missing key. */
  usage: 2,
  /** The API answered an error, or could not be reached. */
  api: 3,
  /** A bug in the CLI itself. */
  internal: 4,
  /** A program the command runs failed (`init`: packing Baton). */
  step: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A command line that cannot work as given; reported with a hint to `--help`, exit 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A program the command runs failed; its message says which and what it printed. Exit 5. */
export class StepFailedError extends Error {
  override readonly name = "StepFailedError";
}

/** The watched run ended other than succeeded; its summary is already printed. */
export class RunNotSucceededError extends Error {
  override readonly name = "RunNotSucceededError";
}
