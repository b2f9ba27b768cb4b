/**
 * What MemoryRunQueue does beyond the RunQueue contract, as SQS does it: FIFO group order and
 * dedup window, fair-queue order across tenants, DLQ.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../shared/memory/manual-clock.ts";
import { MemoryRunQueue } from "../../../shared/memory/memory-run-queue.ts";

const runIds = (messages: { body: string }[]) => messages.map((m) => JSON.parse(m.body).runId);

describe("MemoryRunQueue", () => {
  it("hands out a group's messages in order, never while one of the group is in flight", async () => {
    const clock = new ManualClock();
    const queue = new MemoryRunQueue({ clock, visibilityTimeoutSeconds: 30 });
    await queue.enqueue({ tenant: "acme", runId: "a", queue: "q" });
    await queue.enqueue({ tenant: "acme", runId: "b", queue: "q" });
    await queue.enqueue({ tenant: "acme", runId: "solo" });
    const [first] = queue.receive(1);
    expect(runIds([first ?? { body: "{}" }])).toEqual(["a"]);
    // "a" is in flight: "b" waits behind it; other groups do not.
    expect(runIds(queue.receive())).toEqual(["solo"]);
    clock.advance(30_000);
    // Both show again (their visibility ran out); "a" still comes before "b".
    const again = queue.receive();
    expect(runIds(again)).toEqual(["a", "b", "solo"]);
    expect(again[0]?.receiveCount).toBe(2);
    queue.delete(first?.receipt ?? { lane: "fifo", handle: "" }); // a stale receipt handle deletes nothing
    expect(queue.size).toBe(3);
  });

  it("drops a repeated send to a named queue within 5 minutes only", async () => {
    const clock = new ManualClock();
    const queue = new MemoryRunQueue({ clock });
    await queue.enqueue({ tenant: "acme", runId: "r", queue: "q" });
    clock.advance(5 * 60_000 - 1);
    await queue.enqueue({ tenant: "acme", runId: "r", queue: "q" });
    await queue.enqueue({ tenant: "acme", runId: "r", queue: "q" }, "resend-1");
    expect(queue.size).toBe(2);
    clock.advance(1);
    await queue.enqueue({ tenant: "acme", runId: "r", queue: "q" });
    expect(queue.size).toBe(3);
  });

  it("keeps every send of a run without a named queue: a standard queue does not deduplicate", async () => {
    const queue = new MemoryRunQueue({ clock: new ManualClock() });
    await queue.enqueue({ tenant: "acme", runId: "r" });
    await queue.enqueue({ tenant: "acme", runId: "r" });
    expect(queue.size).toBe(2);
  });

  it("hands out a quiet tenant's run ahead of a noisy tenant's backlog", async () => {
    const queue = new MemoryRunQueue({ clock: new ManualClock() });
    for (let i = 0; i < 30; i += 1) await queue.enqueue({ tenant: "noisy", runId: `n${i}` });
    // The noisy tenant has 10 in flight when the quiet tenant's run arrives.
    expect(queue.receive(10)).toHaveLength(10);
    await queue.enqueue({ tenant: "quiet", runId: "q1" });
    await queue.enqueue({ tenant: "quiet", runId: "q2" });
    expect(runIds(queue.receive(3))).toEqual(["q1", "q2", "n10"]);
  });

  it("runs a tenant's fair-queue messages side by side: its group never blocks", async () => {
    const queue = new MemoryRunQueue({ clock: new ManualClock() });
    for (let i = 0; i < 3; i += 1) await queue.enqueue({ tenant: "acme", runId: `r${i}` });
    expect(queue.receive(1)).toHaveLength(1);
    expect(runIds(queue.receive())).toEqual(["r1", "r2"]);
  });

  it("moves a message received maxReceiveCount times without being deleted to the dead letters", async () => {
    const clock = new ManualClock();
    const queue = new MemoryRunQueue({ clock, visibilityTimeoutSeconds: 1, maxReceiveCount: 3 });
    await queue.enqueue({ tenant: "acme", runId: "poison" });
    for (let i = 0; i < 3; i += 1) {
      expect(queue.receive()).toHaveLength(1);
      expect(queue.nextVisibleAt()).toEqual(new Date(clock.now().getTime() + 1_000));
      clock.advance(1_000);
    }
    expect(queue.receive()).toEqual([]);
    expect(queue.size).toBe(0);
    expect(runIds([...queue.deadLetters])).toEqual(["poison"]);
  });
});
