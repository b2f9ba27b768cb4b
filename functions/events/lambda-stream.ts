/**
 * The events handler as a Lambda with response streaming, behind a function URL whose invoke
 * mode is RESPONSE_STREAM (infra/baton-stack.ts). `awslambda` is a global of Lambda's Node.js
 * runtime, with no package and no types: declared here, and looked up only when the handler is
 * made, so importing this file elsewhere (tests, the dev server) never needs it.
 */
import type { Writable } from "node:stream";
import type { Context } from "aws-lambda";
import type { ApiEvent } from "../api/http.ts";
import type { EventsHandler } from "./handler.ts";

interface AwsLambdaGlobal {
  streamifyResponse(
    handler: (event: ApiEvent, responseStream: Writable, context: Context) => Promise<void>,
  ): unknown;
  HttpResponseStream: {
    /** Sends status and headers as the stream's prelude; must come before the first write. */
    from(stream: Writable, metadata: { statusCode: number; headers?: Record<string, string> }): Writable;
  };
}

/** The exported Lambda handler, or one that says why it cannot run outside Lambda's runtime. */
export function streamingLambda(handler: EventsHandler): unknown {
  // Other code may make the global (the SDK's invoke store sets `awslambda = {}`): look for the method.
  const runtime = (globalThis as { awslambda?: Partial<AwsLambdaGlobal> }).awslambda;
  if (typeof runtime?.streamifyResponse !== "function" || runtime.HttpResponseStream === undefined) {
    return () => {
      throw new Error("the events handler streams: it runs only in AWS Lambda's Node.js runtime");
    };
  }
  const { HttpResponseStream } = runtime;
  return runtime.streamifyResponse(async (event, responseStream, context) => {
    const closed = new AbortController();
    let stream: Writable | undefined;
    // Lambda does not always tell a handler that the client went away; when it does, stop.
    responseStream.on("close", () => closed.abort());
    responseStream.on("error", () => closed.abort());
    await handler(event, context, {
      start: (statusCode, headers) => {
        stream = HttpResponseStream.from(responseStream, { statusCode, headers });
      },
      write: (text) =>
        new Promise<void>((resolve) => {
          if (stream === undefined || stream.writableEnded || closed.signal.aborted) return resolve();
          // Resolves once written, or once the write failed (the client is gone: the abort ends the loop).
          stream.write(text, () => resolve());
        }),
      end: () => {
        if (stream !== undefined && !stream.writableEnded) stream.end();
      },
      closed: closed.signal,
    });
  });
}
