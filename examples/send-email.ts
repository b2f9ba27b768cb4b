import { z } from "zod";
import { defineTask } from "../shared/core/task.ts";

const Params = z.object({
  to: z.email(),
  subject: z.string().min(1).max(200),
  text: z.string().max(10_000).default(""),
});

/**
 * A shared task other tasks start (see notify-signups): one email per run, so each is retried
 * on its own. This example delivers to the run's log; a real one calls its email provider inside
 * `ctx.once` with the idempotency key, so a retry after a crash never sends twice.
 */
export default defineTask({
  handler: "send-email",
  params: Params,
  async run(ctx, { to, subject }) {
    const receipt = await ctx.once("send", async ({ idempotencyKey }) => {
      await ctx.log(`delivered "${subject}" to ${to}`);
      return { messageId: idempotencyKey };
    });
    return { to, subject, messageId: receipt.messageId };
  },
});
