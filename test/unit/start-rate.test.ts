/** The start-rate decision (GCRA) and the limits a tenant may be given. */
import { describe, expect, it } from "vitest";
import {
  admitUpToUs,
  defaultBurst,
  gcraDecide,
  gcraRule,
  microsOf,
  retryAfterSeconds,
  START_RATE_LIMITS,
  startRateOf,
} from "../../shared/core/start-rate.ts";
import { TenantLimits } from "../../shared/core/tenant.ts";
import { tenantLimitsInForce } from "../../shared/core/tenant-limits.ts";

const SECOND = 1_000_000;

/** Admits starts at the given times (µs) in order against one bucket; true for each admitted. */
function replay(rate: { startsPerSecond: number; burst: number }, times: number[]): boolean[] {
  const rule = gcraRule(rate);
  let tat: number | undefined;
  return times.map((now) => {
    const decision = gcraDecide(tat, rule, now);
    if (decision.admitted) tat = decision.tatUs;
    return decision.admitted;
  });
}

describe("gcraDecide", () => {
  it("lets a burst through at once, then one start per interval", () => {
    expect(replay({ startsPerSecond: 1, burst: 2 }, [0, 0, 0])).toEqual([true, true, false]);
    expect(replay({ startsPerSecond: 1, burst: 3 }, [0, 0, 0, 0])).toEqual([true, true, true, false]);
    // Drained at t=0; each second frees one start, never two.
    expect(
      replay({ startsPerSecond: 1, burst: 2 }, [0, 0, SECOND - 1, SECOND, SECOND, 2 * SECOND, 2 * SECOND]),
    ).toEqual([true, true, false, true, false, true, false]);
  });

  it("refills the bucket while idle, up to the burst and no further", () => {
    const rate = { startsPerSecond: 2, burst: 3 };
    const idle = 60 * SECOND;
    expect(replay(rate, [0, 0, 0, idle, idle, idle, idle])).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
      false,
    ]);
  });

  it("keeps the steady rate however fast starts come: burst, then one per interval", () => {
    for (const rate of [
      { startsPerSecond: 0.5, burst: 1 },
      { startsPerSecond: 3, burst: 3 },
      { startsPerSecond: 7, burst: 2 },
      { startsPerSecond: 1_000, burst: 50 },
    ]) {
      // A start every 100 µs for 10 s: faster than any allowed rate.
      const times = Array.from({ length: 100_000 }, (_, i) => i * 100);
      const admitted = replay(rate, times).filter(Boolean).length;
      const last = times.at(-1) ?? 0;
      expect(admitted, JSON.stringify(rate)).toBe(rate.burst + Math.floor(last / gcraRule(rate).intervalUs));
      expect(admitted, JSON.stringify(rate)).toBeCloseTo(rate.burst + 10 * rate.startsPerSecond, -0.5);
    }
  });

  it("refuses with the whole seconds until the next start fits, at least 1", () => {
    const rule = gcraRule({ startsPerSecond: 1, burst: 2 });
    expect(gcraDecide(2 * SECOND, rule, 0)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    expect(gcraDecide(2 * SECOND, rule, SECOND / 2)).toEqual({ admitted: false, retryAfterSeconds: 1 });
    const slow = gcraRule({ startsPerSecond: 0.1, burst: 1 });
    expect(gcraDecide(10 * SECOND, slow, 0)).toEqual({ admitted: false, retryAfterSeconds: 10 });
    expect(gcraDecide(10 * SECOND, slow, 2.5 * SECOND)).toEqual({ admitted: false, retryAfterSeconds: 8 });
    // Waiting that long is enough: the start is admitted then.
    expect(gcraDecide(10 * SECOND, slow, 10 * SECOND).admitted).toBe(true);
    expect(retryAfterSeconds(SECOND, rule, SECOND)).toBe(1);
  });

  it("admits from a TAT up to admitUpTo and moves it one interval on; restarts a past TAT from now", () => {
    const rule = gcraRule({ startsPerSecond: 4, burst: 5 });
    expect(rule).toEqual({ intervalUs: 250_000, windowUs: 1_250_000 });
    const now = 100 * SECOND;
    const upTo = admitUpToUs(rule, now);
    expect(upTo).toBe(now + SECOND);
    expect(gcraDecide(upTo, rule, now)).toEqual({ admitted: true, tatUs: upTo + 250_000 });
    expect(gcraDecide(upTo + 1, rule, now).admitted).toBe(false);
    expect(gcraDecide(now - 5 * SECOND, rule, now)).toEqual({ admitted: true, tatUs: now + 250_000 });
    expect(gcraDecide(undefined, rule, now)).toEqual({ admitted: true, tatUs: now + 250_000 });
  });

  it("works in whole microseconds, within 0.05 % of any rate up to the maximum", () => {
    for (const startsPerSecond of [0.0001, 0.3, 3, 7, 600, 999, 1_000]) {
      const { intervalUs } = gcraRule({ startsPerSecond, burst: 1 });
      expect(Number.isInteger(intervalUs)).toBe(true);
      expect(Math.abs(1_000_000 / intervalUs - startsPerSecond) / startsPerSecond).toBeLessThan(0.0005);
    }
    expect(microsOf(new Date("2026-01-01T00:00:00.001Z"))).toBe(1_767_225_600_001_000);
    // The largest TAT a bucket can reach stays an exact integer in a double.
    const slowest = gcraRule({
      startsPerSecond: START_RATE_LIMITS.minStartsPerSecond,
      burst: START_RATE_LIMITS.maxBurst,
    });
    expect(Number.isSafeInteger(microsOf(new Date("2100-01-01T00:00:00Z")) + slowest.windowUs)).toBe(true);
  });
});

describe("a tenant's start rate", () => {
  it("defaults burst to one second's worth, at least 1", () => {
    expect(startRateOf({ startsPerSecond: 2.5 })).toEqual({ startsPerSecond: 2.5, burst: 3 });
    expect(startRateOf({ startsPerSecond: 0.2 })).toEqual({ startsPerSecond: 0.2, burst: 1 });
    expect(startRateOf({ startsPerSecond: 5, burst: 40 })).toEqual({ startsPerSecond: 5, burst: 40 });
    expect(startRateOf({})).toBeUndefined();
    expect(startRateOf(undefined)).toBeUndefined();
    expect(defaultBurst(1_000)).toBe(1_000);
  });

  it("accepts only rates and bursts it can keep, and no burst without a rate", () => {
    const ok = (limits: unknown) => TenantLimits.safeParse(limits).success;
    expect(ok({ startsPerSecond: 1, burst: 2 })).toBe(true);
    expect(ok({ startsPerSecond: 0.0001 })).toBe(true);
    expect(ok({ startsPerSecond: 1_000, burst: 10_000 })).toBe(true);
    expect(ok({})).toBe(true);
    expect(ok({ startsPerSecond: 0 })).toBe(false);
    expect(ok({ startsPerSecond: -1 })).toBe(false);
    expect(ok({ startsPerSecond: 1_001 })).toBe(false);
    expect(ok({ startsPerSecond: 1, burst: 0 })).toBe(false);
    expect(ok({ startsPerSecond: 1, burst: 1.5 })).toBe(false);
    expect(ok({ startsPerSecond: 1, burst: 10_001 })).toBe(false);
    expect(ok({ startsPerSecond: "1" })).toBe(false);
    const alone = TenantLimits.safeParse({ burst: 5 });
    expect(alone.success).toBe(false);
    expect(alone.error?.issues[0]).toMatchObject({ path: ["burst"], message: "burst needs startsPerSecond" });
  });

  it("shows the tenant caps in force too", () => {
    expect(tenantLimitsInForce({ maxConcurrency: 20, maxWaiting: 1_000 })).toMatchObject({
      maxConcurrency: 20,
      maxWaiting: 1_000,
    });
  });

  it("is part of the limits in force, null when there is none", () => {
    expect(tenantLimitsInForce(undefined)).toEqual({
      maxChainDepth: 8,
      maxChainTree: 1_000,
      maxConcurrency: null,
      maxWaiting: null,
      startsPerSecond: null,
      burst: null,
    });
    expect(tenantLimitsInForce({ maxChainDepth: 3, startsPerSecond: 1.5 })).toEqual({
      maxChainDepth: 3,
      maxChainTree: 1_000,
      maxConcurrency: null,
      maxWaiting: null,
      startsPerSecond: 1.5,
      burst: 2,
    });
  });
});
