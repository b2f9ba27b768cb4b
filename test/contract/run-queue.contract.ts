import { describe, expect, it } from "vitest";
import type { RunQueue, RunReceipt } from "../../shared/core/ports.ts";

export interface ReceivedMessage {
  body: string;
  groupId: string | undefined;
  receipt: RunReceipt;
}

/** A queue under test plus a way to look into it (the worker side). */
export interface QueueHarness {
  queue: RunQueue;
  /** What both lanes hand out now (FIFO lane first). */
  receive(waitSeconds?: number): Promise<ReceivedMessage[]>;
  remove(receipt: RunReceipt): Promise<void>;
}

export function runQueueContract(name: string, makeHarness: () => Promise<QueueHarness>): void {
  describe(`RunQueue contract: ${name}`, () => {
    it("carries tenant and run id: a named queue's run on the FIFO lane in its queue's group, any other on the fair lane", async () => {
      const h = await makeHarness();
      await h.queue.enqueue({ tenant: "acme", runId: "r1", queue: "invoices" });
      await h.queue.enqueue({ tenant: "acme", runId: "r2" });
      const messages = await h.receive();
      expect(messages.map((m) => [JSON.parse(m.body), m.receipt.lane])).toEqual([
        [{ v: 1, tenant: "acme", runId: "r1" }, "fifo"],
        [{ v: 1, tenant: "acme", runId: "r2" }, "fair"],
      ]);
      expect(messages[0]?.groupId).toBe("acme#invoices");
    });

    it("drops a repeated send of the same run on a named queue", async () => {
      const h = await makeHarness();
      await h.queue.enqueue({ tenant: "acme", runId: "r1", queue: "q" });
      await h.queue.enqueue({ tenant: "acme", runId: "r1", queue: "q" });
      const first = await h.receive();
      expect(first).toHaveLength(1);
      await h.remove(first[0]?.receipt ?? { lane: "fifo", handle: "" });
      expect(await h.receive(0)).toHaveLength(0);
    });

    it("takes the longest tenant, queue and run names: their group ids fit SQS's 128 characters as they are", async () => {
      const h = await makeHarness();
      const tenant = `t${"e".repeat(62)}`;
      const queue = `q${"u".repeat(63)}`;
      const runId = (n: number) => `${"r".repeat(62)}${n}${n}`;
      await h.queue.enqueue({ tenant, runId: runId(1), queue });
      await h.queue.enqueue({ tenant, runId: runId(2), queue });
      await h.queue.enqueue({ tenant, runId: runId(3) });
      const messages = await h.receive();
      // How many of one group a receive hands out differs (AWS returns as many as it can in order).
      const groupOf = (id: string) => messages.find((m) => JSON.parse(m.body).runId === id)?.groupId;
      expect(groupOf(runId(1))).toBe(`${tenant}#${queue}`);
      expect(messages.some((m) => JSON.parse(m.body).runId === runId(3))).toBe(true);
      expect(messages.every((m) => (m.groupId ?? "").length <= 128)).toBe(true);
    });

    it("drops a repeated send of a run whose deduplication id had to be hashed", async () => {
      const h = await makeHarness();
      const tenant = `t${"e".repeat(62)}`;
      const runId = "r".repeat(64);
      const sendId = `resend-${"s".repeat(40)}`;
      await h.queue.enqueue({ tenant, runId, queue: "q" }, sendId);
      await h.queue.enqueue({ tenant, runId, queue: "q" }, sendId);
      await h.queue.enqueue({ tenant, runId, queue: "q" }, `${sendId}-2`);
      // One group, so one message at a time: drain it and count what was sent.
      let delivered = 0;
      for (let round = 0; round < 5; round += 1) {
        const messages = await h.receive(round === 0 ? 1 : 0);
        if (messages.length === 0) break;
        delivered += messages.length;
        for (const m of messages) await h.remove(m.receipt);
      }
      // The repeat was dropped; the other send id, equal to it in the 84 characters a hashed id
      // keeps, was not.
      expect(delivered).toBe(2);
    });

    it("hands a quiet tenant's run out ahead of a noisy tenant's backlog (fair lane)", async () => {
      const h = await makeHarness();
      for (let i = 0; i < 25; i += 1) await h.queue.enqueue({ tenant: "noisy", runId: `n${i}` });
      // The noisy tenant has ten runs in flight when the quiet tenant's run is sent.
      expect(await h.receive()).toHaveLength(10);
      await h.queue.enqueue({ tenant: "quiet", runId: "q1" });
      const next = await h.receive();
      expect(JSON.parse(next[0]?.body ?? "{}")).toMatchObject({ tenant: "quiet", runId: "q1" });
    });

    it("hides a message for a while and then shows it again", async () => {
      const h = await makeHarness();
      await h.queue.enqueue({ tenant: "acme", runId: "r1" });
      const [message] = await h.receive();
      await h.queue.setVisibility(message?.receipt ?? { lane: "fair", handle: "" }, 0);
      const again = await h.receive();
      expect(again).toHaveLength(1);
      await h.queue.setVisibility(again[0]?.receipt ?? { lane: "fair", handle: "" }, 30);
      expect(await h.receive(0)).toHaveLength(0);
    });

    it("ignores a visibility change for a message that is gone", async () => {
      const h = await makeHarness();
      await h.queue.enqueue({ tenant: "acme", runId: "r1" });
      const [message] = await h.receive();
      const receipt = message?.receipt ?? { lane: "fair" as const, handle: "" };
      await h.remove(receipt);
      await expect(h.queue.setVisibility(receipt, 10)).resolves.toBeUndefined();
    });
  });
}
