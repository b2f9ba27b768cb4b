import { defineTask } from "../shared/core/task.ts";

/** Returns its params as its output. */
export default defineTask({
  handler: "echo",
  async run(_ctx, params) {
    return params;
  },
});
