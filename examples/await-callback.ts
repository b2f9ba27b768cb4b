import { NonRetriableError } from "../shared/core/errors.ts";
import { defineTask } from "../shared/core/task.ts";

/**
 * Hands its task id and callback token to "the outside system" (here: its own log, so the README
 * walkthrough can read them), then returns; the run waits as `awaiting` until a callback.
 * Register it with `"mode": "callback"`.
 */
export default defineTask({
  handler: "await-callback",
  async run(ctx, params) {
    if (ctx.callbackToken === undefined) {
      throw new NonRetriableError('await-callback needs a definition with "mode": "callback"');
    }
    await ctx.log(`taskId ${ctx.taskId}`);
    await ctx.log(`callbackToken ${ctx.callbackToken}`);
    await ctx.feedback("waiting for the outside system to call back");
    return { requested: params };
  },
});
