import { z } from "zod";
import { defineTask } from "../shared/core/task.ts";

const Params = z.object({
  ms: z
    .number()
    .int()
    .min(0)
    .max(14 * 60_000)
    .default(1_000),
  steps: z.number().int().min(1).max(1_000).default(10),
});

/** Sleeps `ms` in `steps` steps, reporting progress and appending a feedback line after each. */
export default defineTask({
  handler: "sleep",
  params: Params.loose(),
  async run(ctx, params) {
    const { ms, steps } = Params.parse(params);
    for (let step = 1; step <= steps; step += 1) {
      await new Promise((resolve) => setTimeout(resolve, ms / steps));
      ctx.signal.throwIfAborted();
      await ctx.progress(step / steps);
      await ctx.feedback(`step ${step}/${steps}`, { mode: "append" });
    }
    return { slept: ms };
  },
});
