import { beforeEach, describe, expect, it } from "vitest";
import type { StartRateDecision, StartRateStore } from "../../shared/core/ports.ts";

/**
 * `open` gives a handle on one shared set of buckets; each call may be another process's handle
 * (a DynamoDB store per api instance), so what one process remembers cannot decide for another.
 */
export function startRateStoreContract(name: string, makeBuckets: () => Promise<() => StartRateStore>): void {
  describe(`StartRateStore contract: ${name}`, () => {
    let open: () => StartRateStore;
    let store: StartRateStore;
    const T0 = Date.parse("2026-01-01T00:00:00.000Z");
    const at = (ms: number) => new Date(T0 + ms);
    const oneASecond = { startsPerSecond: 1, burst: 2 };
    const admitted: StartRateDecision = { admitted: true };
    const refused = (retryAfterSeconds: number): StartRateDecision => ({
      admitted: false,
      retryAfterSeconds,
    });

    beforeEach(async () => {
      open = await makeBuckets();
      store = open();
    });

    it("admits a burst at once, then refuses with the whole seconds to wait", async () => {
      expect(await store.take("acme", oneASecond, at(0))).toEqual(admitted);
      expect(await store.take("acme", oneASecond, at(0))).toEqual(admitted);
      expect(await store.take("acme", oneASecond, at(0))).toEqual(refused(1));
      expect(await store.take("acme", oneASecond, at(300))).toEqual(refused(1));
      const slow = { startsPerSecond: 0.1, burst: 1 };
      expect(await store.take("slow", slow, at(0))).toEqual(admitted);
      expect(await store.take("slow", slow, at(2_500))).toEqual(refused(8));
    });

    it("admits one start per interval as time passes, and a refused take takes nothing", async () => {
      await store.take("acme", oneASecond, at(0));
      await store.take("acme", oneASecond, at(0));
      for (let i = 0; i < 5; i += 1)
        expect(await store.take("acme", oneASecond, at(999))).toEqual(refused(1));
      // The refusals spent nothing: a second after the burst, one start fits again, and one only.
      expect(await store.take("acme", oneASecond, at(1_000))).toEqual(admitted);
      expect(await store.take("acme", oneASecond, at(1_000))).toEqual(refused(1));
      expect(await store.take("acme", oneASecond, at(2_000))).toEqual(admitted);
    });

    it("fills up while idle, to the burst and no further", async () => {
      const rate = { startsPerSecond: 2, burst: 3 };
      for (let i = 0; i < 3; i += 1) expect(await store.take("acme", rate, at(0))).toEqual(admitted);
      expect((await store.take("acme", rate, at(0))).admitted).toBe(false);
      for (let i = 0; i < 3; i += 1) expect(await store.take("acme", rate, at(3_600_000))).toEqual(admitted);
      expect(await store.take("acme", rate, at(3_600_000))).toEqual(refused(1));
    });

    it("keeps each tenant's bucket its own", async () => {
      await store.take("acme", oneASecond, at(0));
      await store.take("acme", oneASecond, at(0));
      expect((await store.take("acme", oneASecond, at(0))).admitted).toBe(false);
      expect(await store.take("globex", oneASecond, at(0))).toEqual(admitted);
      expect(await store.take("globex", oneASecond, at(0))).toEqual(admitted);
    });

    it("never admits more than the burst to concurrent takes, from several processes", async () => {
      const rate = { startsPerSecond: 1, burst: 5 };
      const handles = [store, open(), open()];
      const decisions = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (handles[i % handles.length] ?? store).take("acme", rate, at(0)),
        ),
      );
      expect(decisions.filter((d) => d.admitted)).toHaveLength(5);
      expect(decisions.filter((d) => !d.admitted)).toEqual(Array.from({ length: 15 }, () => refused(1)));
    });

    it("decides from the shared bucket, not from what one process saw last", async () => {
      const rate = { startsPerSecond: 1, burst: 2 };
      const other = open();
      // This process last saw a full bucket, long ago; the other drains it meanwhile.
      expect(await store.take("acme", rate, at(0))).toEqual(admitted);
      expect(await other.take("acme", rate, at(60_000))).toEqual(admitted);
      expect(await other.take("acme", rate, at(60_000))).toEqual(admitted);
      expect(await store.take("acme", rate, at(60_000))).toEqual(refused(1));
      // And the other way round: this process saw it drained, the bucket has refilled since.
      expect(await store.take("acme", rate, at(62_000))).toEqual(admitted);
      expect(await store.take("acme", rate, at(62_000))).toEqual(admitted);
      expect((await other.take("acme", rate, at(62_000))).admitted).toBe(false);
    });

    it("applies a changed rate from the next take, holding the starts already made against it", async () => {
      const fast = { startsPerSecond: 100, burst: 100 };
      for (let i = 0; i < 10; i += 1) expect(await store.take("acme", fast, at(0))).toEqual(admitted);
      // Now one a second, burst 1: the ten starts just made hold the bucket until 0.1 s.
      const slow = { startsPerSecond: 1, burst: 1 };
      expect(await store.take("acme", slow, at(0))).toEqual(refused(1));
      expect(await store.take("acme", slow, at(100))).toEqual(admitted);
      expect(await store.take("acme", slow, at(100))).toEqual(refused(1));
      // Raised again, with a larger burst: room at once.
      expect(await store.take("acme", { startsPerSecond: 100, burst: 1_000 }, at(100))).toEqual(admitted);
    });

    it("lets a raised rate apply at once: a bucket drained under a slower rule does not hold the new one", async () => {
      // One start at one per 10,000 s: under that rule the bucket stays drained for 2.8 hours.
      const slow = { startsPerSecond: 0.0001, burst: 1 };
      expect(await store.take("acme", slow, at(0))).toEqual(admitted);
      expect((await store.take("acme", slow, at(60_000))).admitted).toBe(false);
      // Raised to 100 a second: a minute later it admits, and then holds the new burst.
      const fast = { startsPerSecond: 100, burst: 2 };
      expect(await store.take("acme", fast, at(60_000))).toEqual(admitted);
      expect(await store.take("acme", fast, at(60_000))).toEqual(admitted);
      expect(await store.take("acme", fast, at(60_000))).toEqual(refused(1));
    });
  });
}
