import { NonRetriableError } from "../shared/core/errors.ts";
import { defineTask } from "../shared/core/task.ts";

/** Always throws; with `nonRetriable: true` the run fails at once instead of retrying. */
export default defineTask({
  handler: "fail",
  async run(ctx, params) {
    const message = typeof params.message === "string" ? params.message : `fail on attempt ${ctx.attempt}`;
    await ctx.log(message);
    if (params.nonRetriable === true) throw new NonRetriableError(message);
    throw new Error(message);
  },
});
