/** The CDK app: the only place in infra/ that reads the environment. */
import { App } from "aws-cdk-lib";
import { ENV } from "../shared/config.ts";
import { BatonStack } from "./baton-stack.ts";

const app = new App();

const rootKeySha256: unknown = app.node.tryGetContext("rootKeySha256") ?? process.env[ENV.rootKeySha256];
if (rootKeySha256 !== undefined && typeof rootKeySha256 !== "string") {
  throw new Error("context rootKeySha256 must be a string");
}
// Signs file tokens; without it the deployment refuses them. The stack checks its length.
const fileTokenSecret: unknown =
  app.node.tryGetContext("fileTokenSecret") ?? process.env[ENV.fileTokenSecret];
if (fileTokenSecret !== undefined && typeof fileTokenSecret !== "string") {
  throw new Error("context fileTokenSecret must be a string");
}
const workerConcurrency: unknown = app.node.tryGetContext("workerConcurrency");

new BatonStack(app, "Baton", {
  // Unset offline: the stack stays environment-agnostic and synthesizes without credentials.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  rootKeySha256: rootKeySha256 === "" ? undefined : rootKeySha256,
  fileTokenSecret: fileTokenSecret === "" ? undefined : fileTokenSecret,
  workerConcurrency: workerConcurrency === undefined ? undefined : Number(workerConcurrency),
});
