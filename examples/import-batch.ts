import { z } from "zod";
import { defineTask } from "../shared/core/task.ts";

const Params = z.object({
  /** Items in the whole job. */
  total: z.number().int().min(0).max(10_000_000),
  /** Items one run processes: small enough to finish well inside the definition's timeout. */
  batchSize: z.number().int().min(1).max(100_000).default(100),
  /** The first item of this run's batch (0 for the run that starts the job). */
  from: z.number().int().min(0).default(0),
  /** Pretend work per item, in ms. */
  itemMs: z.number().int().min(0).max(1_000).default(5),
});

/**
 * A long job split into runs that each fit a time limit: process one batch, then start the
 * same definition for the rest. The continuation is started with a fixed `key`, so if this run
 * is retried after a crash it finds the continuation it already started instead of starting a
 * second one. Each run's `origin` names the run before it (GET /v1/tasks/{id}/started lists the next).
 */
export default defineTask({
  handler: "import-batch",
  params: Params,
  async run(ctx, { total, batchSize, from, itemMs }) {
    const to = Math.min(total, from + batchSize);
    for (let item = from; item < to; item += 1) {
      ctx.signal.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, itemMs));
      await ctx.progress((item + 1 - from) / (to - from));
    }
    await ctx.feedback(`imported items ${from}–${to - 1} of ${total}`);
    if (to >= total) return { from, to, continuation: null };
    const next = await ctx.tasks.start({
      definition: ctx.definition,
      params: { total, batchSize, from: to, itemMs },
      key: "continuation",
    });
    return { from, to, continuation: next.taskId };
  },
});
