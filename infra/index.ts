/**
 * `baton/cdk`: Baton as a construct of your own CDK app.
 *
 * @example
 * import { App, Stack } from "aws-cdk-lib";
 * import { Baton } from "baton/cdk";
 *
 * const app = new App();
 * const stack = new Stack(app, "MyTasks");
 * new Baton(stack, "Baton", { tasks: "src/tasks/index.ts" });
 *
 * @packageDocumentation
 */
export {
  BATON_DEFAULTS,
  Baton,
  type BatonConstructProps,
  type BatonProps,
  BatonStack,
  type BatonStackProps,
} from "./baton-stack.ts";
