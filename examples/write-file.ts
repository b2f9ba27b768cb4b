import { z } from "zod";
import { defineTask } from "../shared/core/task.ts";

const Params = z.object({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/)
    .default("hello.txt"),
  text: z.string().max(1_000_000).default("Hello from Baton\n"),
});

/** Writes `text` to the file `name` of the run; the output gets FileName, FileKey and FileSize. */
export default defineTask({
  handler: "write-file",
  params: Params.loose(),
  async run(ctx, params) {
    const { name, text } = Params.parse(params);
    const file = await ctx.files.put(name, text, { contentType: "text/plain; charset=utf-8" });
    await ctx.feedback(`wrote ${file.size} bytes to ${file.name}`);
    return { lines: text.split("\n").filter((line) => line !== "").length };
  },
});
