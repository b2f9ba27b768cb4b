import { mkdir, rename, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NonRetriableError } from "../shared/core/errors.ts";
import { defineTask } from "../shared/core/task.ts";

/**
 * Where this example hands a run's callback token to "the outside system": one file per run,
 * readable by the worker's own user only. Not the run's logs, output or subtext: those are kept
 * with the run and every runner key of the tenant reads them, while the token is a credential
 * for whoever should report back. A real handler sends it to the outside system's own API.
 */
export function callbackTokenFile(taskId: string): string {
  return join(tmpdir(), "baton-callback-tokens", taskId);
}

/**
 * Hands its callback token to "the outside system" (a private file, see `callbackTokenFile`),
 * then returns; the run waits as `awaiting` until a callback. Register it with `"mode": "callback"`.
 */
export default defineTask({
  handler: "await-callback",
  async run(ctx, params) {
    if (ctx.callbackToken === undefined) {
      throw new NonRetriableError('await-callback needs a definition with "mode": "callback"');
    }
    const file = callbackTokenFile(ctx.taskId);
    await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
    // A retried attempt gets a new token: overwrite, so the file always holds the live one.
    // Written aside and renamed into place, so a reader polling for the file never reads it empty.
    const temporary = `${file}.${ctx.attempt}.tmp`;
    await writeFile(temporary, `${ctx.callbackToken}\n`, { mode: 0o600 });
    await rename(temporary, file);
    await ctx.feedback("waiting for the outside system to call back");
    return { requested: params };
  },
});
