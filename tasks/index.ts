/**
 * The handler registry: the one module the worker and the api import to know which handlers
 * exist. Add your own handlers here (and keep them under tasks/); the CDK stack bundles exactly
 * what this module imports, and `npm run dev` loads the same.
 */
import { exampleTasks } from "../examples/index.ts";
import { HandlerRegistry } from "../shared/core/task.ts";

export const registry = new HandlerRegistry([...exampleTasks]);
