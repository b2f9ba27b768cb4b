/**
 * Traces of runs (OpenTelemetry API only, so this costs nothing while no SDK is registered: every
 * span is a no-op and no trace context is written). A start's span context travels as a W3C
 * `traceparent` on the run and in its queue message, so the queue wait and each attempt join the
 * start's trace, and whatever an attempt starts (a chain hop, `ctx.tasks.start`) joins it too.
 * The SDK and exporter are set up in shared/observability/otel.ts.
 */
import {
  type Attributes,
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  type SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";

const propagator = new W3CTraceContextPropagator();
const tracer = () => trace.getTracer("baton");

/** The active span's context as a `traceparent`, or undefined when nothing is traced. */
export function activeTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagator.inject(context.active(), carrier, defaultTextMapSetter);
  return carrier.traceparent;
}

/** The context a stored `traceparent` names (the root context when there is none). */
export function contextOfTraceparent(traceparent: string | undefined): Context {
  if (traceparent === undefined) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter);
}

/**
 * Runs `work` with a caller's trace context active (the W3C `traceparent` header of an API
 * request), so the start it makes is a span of the caller's trace. A malformed value is ignored,
 * as the propagator ignores it: the start then begins a trace of its own.
 */
export function inCallerTrace<T>(traceparent: string | undefined, work: () => T): T {
  if (traceparent === undefined) return work();
  return context.with(contextOfTraceparent(traceparent), work);
}

/**
 * Runs `work` in a new active span (a child of `parent`, else of the active span), ending it when
 * `work` settles and recording a thrown error on it.
 */
export function inSpan<T>(
  name: string,
  options: { kind: SpanKind; attributes: Attributes; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(
    name,
    { kind: options.kind, attributes: options.attributes },
    parent,
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

/** A span over a time that has already passed (a run's wait in its queue). */
export function recordPastSpan(
  name: string,
  options: { kind: SpanKind; attributes: Attributes; parent: Context; start: Date; end: Date },
): void {
  tracer()
    .startSpan(
      name,
      { kind: options.kind, attributes: options.attributes, startTime: options.start },
      options.parent,
    )
    .end(options.end);
}
