/** What a tasks module may export (`new Baton(…, { tasks })`, `baton dev --tasks`). */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ValidationError } from "../../shared/core/errors.ts";
import { defineTask, HandlerRegistry } from "../../shared/core/task.ts";
import { registryFromTaskModule } from "../../shared/core/task-module.ts";

const echo = defineTask({ handler: "echo", run: async (_ctx, params) => params });
const other = defineTask({ handler: "other", run: async () => null });

describe("registryFromTaskModule", () => {
  it("takes a default-exported array of tasks", () => {
    expect(registryFromTaskModule({ default: [echo, other] }, "m.ts").keys()).toEqual(["echo", "other"]);
  });

  it("takes a default-exported registry, or a fork's named `registry`", () => {
    const registry = new HandlerRegistry([echo]);
    expect(registryFromTaskModule({ default: registry }, "m.ts").keys()).toEqual(["echo"]);
    expect(registryFromTaskModule({ registry }, "m.ts").keys()).toEqual(["echo"]);
  });

  it("rebuilds a registry from another copy of the SDK, so its params errors are this copy's", () => {
    const typed = defineTask({ handler: "typed", params: z.object({ n: z.number() }), run: async () => 1 });
    // A registry-like object that is not this copy's HandlerRegistry.
    const foreign = { get: (key: string) => (key === "typed" ? typed : undefined), keys: () => ["typed"] };
    const registry = registryFromTaskModule({ default: foreign }, "m.ts");
    expect(registry).toBeInstanceOf(HandlerRegistry);
    expect(() => registry.parseParams("typed", { n: "x" })).toThrow(ValidationError);
  });

  it("names the module when its export is not tasks", () => {
    expect(() => registryFromTaskModule({}, "src/tasks.ts")).toThrow(/src\/tasks\.ts must default-export/);
    expect(() => registryFromTaskModule({ default: [echo, { handler: 3 }] }, "src/tasks.ts")).toThrow(
      /entry 1 is not a task/,
    );
    expect(() => registryFromTaskModule({ default: [echo, echo] }, "src/tasks.ts")).toThrow(
      /registered twice/,
    );
  });
});
