/** A project's tasks module, as `baton init` writes one: the construct and loader tests use it. */
import { z } from "zod";
import { defineTask } from "../../../../shared/sdk/index.ts";

const greet = defineTask({
  handler: "fixture-greet",
  params: z.object({ name: z.string() }),
  async run(_ctx, { name }) {
    return { greeting: `Hello from the fixture project, ${name}` };
  },
});

export default [greet];
