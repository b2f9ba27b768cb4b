import type { TestProject } from "vitest/node";
import { type Emulators, startEmulators } from "../../local/emulators.ts";

let emulators: Emulators | undefined;

export async function setup(project: TestProject): Promise<void> {
  emulators = await startEmulators();
  project.provide("endpoints", { dynamodb: emulators.dynamodbEndpoint, sqs: emulators.sqsEndpoint });
}

export async function teardown(): Promise<void> {
  await emulators?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    endpoints: { dynamodb: string; sqs: string };
  }
}
