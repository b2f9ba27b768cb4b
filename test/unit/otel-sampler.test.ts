/**
 * OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG choose the sampler, as the OpenTelemetry
 * specification names them: the SDK package Baton uses does not read them itself.
 */
import { describe, expect, it } from "vitest";
import { samplerFromEnv } from "../../shared/observability/otel.ts";

describe("samplerFromEnv", () => {
  it("keeps every trace, children following their parent, when nothing is set", () => {
    expect(samplerFromEnv({}).toString()).toBe(
      "ParentBased{root=AlwaysOnSampler, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}",
    );
  });

  it("samples a ratio of new traces and keeps each trace whole", () => {
    const sampler = samplerFromEnv({
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.05",
    }).toString();
    expect(sampler).toContain("root=TraceIdRatioBased{0.05}");
    expect(sampler).toContain("localParentNotSampled=AlwaysOffSampler");
  });

  it("names the other standard samplers", () => {
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "always_off" }).toString()).toBe("AlwaysOffSampler");
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "always_on" }).toString()).toBe("AlwaysOnSampler");
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.5" }).toString(),
    ).toBe("TraceIdRatioBased{0.5}");
  });

  it("falls back to all traces for an empty, non-numeric or out-of-range ratio, and to the default for an unknown name", () => {
    for (const arg of ["", "abc", "-0.5"])
      expect(
        samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: arg }).toString(),
      ).toBe("TraceIdRatioBased{1}");
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "sometimes" }).toString()).toBe(
      samplerFromEnv({}).toString(),
    );
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: "parentbased_always_off" }).toString()).toContain(
      "root=AlwaysOffSampler",
    );
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "7" }).toString(),
    ).toBe("TraceIdRatioBased{1}");
  });
});
