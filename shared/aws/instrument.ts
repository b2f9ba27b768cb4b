/**
 * A hook that sees every AWS SDK client Baton makes, to add middleware to its stack: the call
 * counter of the benchmarks, the fault injector of the fault suite (test/support/fault-injector.ts).
 */
import type { MiddlewareStack } from "@smithy/types";

export interface InstrumentableClient {
  // biome-ignore lint/suspicious/noExplicitAny: the SDK's stacks differ per client in their type parameters
  middlewareStack: MiddlewareStack<any, any>;
}

export type ClientInstrument = (client: InstrumentableClient) => void;
