import { describe, expect, it } from "vitest";
import { FailedAuthLimiter } from "../../functions/api/failed-auth-limiter.ts";

describe("the failed-authentication limiter", () => {
  it("allows a burst per source, then refuses until the bucket refills", () => {
    let now = 0;
    const limiter = new FailedAuthLimiter({ burst: 3, perSecond: 1 }, () => now);
    for (let i = 0; i < 3; i += 1) {
      expect(limiter.retryAfter("1.2.3.4")).toBeUndefined();
      limiter.failed("1.2.3.4");
    }
    expect(limiter.retryAfter("1.2.3.4")).toBe(1);
    expect(limiter.retryAfter("5.6.7.8")).toBeUndefined();
    now = 1_000;
    expect(limiter.retryAfter("1.2.3.4")).toBeUndefined();
    limiter.failed("1.2.3.4");
    expect(limiter.retryAfter("1.2.3.4")).toBe(1);
    now = 60_000;
    expect(limiter.retryAfter("1.2.3.4")).toBeUndefined();
  });
});
