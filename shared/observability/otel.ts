/**
 * The OpenTelemetry SDK, set up only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (locally and on
 * Lambda alike): spans are batched and sent over OTLP/HTTP (JSON), the standard exporter reading
 * the OTEL_EXPORTER_OTLP_* variables itself. Without the variable nothing is registered, and the
 * API's no-op tracer makes tracing free (shared/app/tracing.ts).
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from "@opentelemetry/sdk-trace";

export interface Tracing {
  /** Sends the spans batched so far (a Lambda invocation must not end with spans unsent). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

let registered: { provider: TracerProvider; contextManager: AsyncLocalStorageContextManager } | undefined;

/** Starts tracing if the environment asks for it; one provider per process. */
export function startTracing(env: Record<string, string | undefined>): Tracing | undefined {
  if ((env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? "") === "")
    return undefined;
  if (env.OTEL_SDK_DISABLED === "true") return undefined;
  if (registered === undefined) {
    const contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ "service.name": env.OTEL_SERVICE_NAME ?? "baton" }),
      sampler: samplerFromEnv(env),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
    });
    trace.setGlobalTracerProvider(provider);
    registered = { provider, contextManager };
  }
  const { provider } = registered;
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      if (registered === undefined) return;
      const current = registered;
      registered = undefined;
      await current.provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

/**
 * The sampler the standard OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG variables name (this SDK
 * package does not read them itself). Unset or unknown: every trace, children following their
 * parent. A parent-based sampler keeps a run's trace whole: its queue wait, attempts and children
 * follow the start's decision, which travels in the run's `traceparent`.
 */
export function samplerFromEnv(env: Record<string, string | undefined>): Sampler {
  // Set but empty counts as unset: Number("") would be 0, a sampler that keeps nothing.
  const arg = env.OTEL_TRACES_SAMPLER_ARG?.trim() || "1";
  const ratio = Number(arg);
  const traceIdRatio = () =>
    new TraceIdRatioBasedSampler(Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1);
  switch (env.OTEL_TRACES_SAMPLER) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return traceIdRatio();
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: traceIdRatio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
