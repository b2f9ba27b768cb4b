import { z } from "zod";
import { defineTask } from "../shared/core/task.ts";

const Params = z.object({
  emails: z.array(z.email()).min(1).max(1_000),
  subject: z.string().min(1).max(200).default("Welcome aboard"),
});

/**
 * Fans out to the shared send-email task, one run per address, all on the named queue "email":
 * runs of one queue never overlap and start in order, so a mail server that allows one
 * connection at a time is never hit twice at once, whoever starts the emails. Each start is keyed
 * by its address, so a retried run starts no email twice.
 */
export default defineTask({
  handler: "notify-signups",
  params: Params,
  async run(ctx, { emails, subject }) {
    const started: string[] = [];
    for (const to of emails) {
      const email = await ctx.tasks.start({
        definition: "send-email",
        params: { to, subject },
        queue: "email",
        key: `email:${to.replace(/[^A-Za-z0-9@.+_-]/g, "_")}`,
      });
      started.push(email.taskId);
    }
    await ctx.feedback(`queued ${started.length} emails on queue "email"`);
    return { emails: started };
  },
});
