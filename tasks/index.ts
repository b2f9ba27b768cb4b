/**
 * This repository's tasks module: the examples, which the README quickstart and docs use. The
 * CDK app (infra/app.ts) bundles it into the worker and the api, and `npm run dev` loads it. A
 * project of its own passes its own module (`new Baton(…, { tasks })`, `baton dev --tasks`).
 */
import { exampleTasks } from "../examples/index.ts";
import { HandlerRegistry } from "../shared/core/task.ts";

export const registry = new HandlerRegistry([...exampleTasks]);
export default registry;
