import { bulkPageBody } from "../app/bulk-message.ts";
import { type RunMessageBody, runMessageBody } from "../app/worker.ts";
import { AWS_LIMITS } from "../aws/aws-limits.ts";
import { messageGroupId, RUN_QUEUE, runLaneOf } from "../aws/queues.ts";
import type { BulkPageMessage, Clock, RunLane, RunMessage, RunQueue, RunReceipt } from "../core/ports.ts";
import { fairOrder } from "./fair-order.ts";

/** SQS FIFO drops a send whose deduplication id it saw within this long. */
const DEDUP_WINDOW_MS = 5 * 60_000;

/** A message as a consumer receives it (what Lambda's event source puts in an SQS record). */
export interface ReceivedRunMessage {
  messageId: string;
  body: string;
  /** The SQS message group: the named queue on the FIFO lane, the tenant on the fair lane. */
  groupId: string;
  receipt: RunReceipt;
  /** How many times it was received, this time included. */
  receiveCount: number;
}

interface StoredMessage {
  messageId: string;
  body: string;
  lane: RunLane;
  groupId: string;
  receiptHandle?: string;
  /** In flight (received, not deleted) until then; visible again after. */
  hiddenUntil?: number;
  receiveCount: number;
}

/**
 * The two run queues as SQS behaves, in memory, on a given clock. FIFO lane: messages of one group
 * are handed out in order and never while an earlier one of the group is in flight; a send with a
 * deduplication id seen in the last 5 minutes is dropped. Fair lane (a standard queue with fair
 * queueing): no deduplication and no order within a group, and a receive hands out first the
 * messages of the groups (tenants) with the fewest messages in flight, so a tenant's backlog does
 * not hold back another tenant. Both: a received message stays hidden for the visibility timeout
 * unless deleted or its visibility is changed; after `maxReceiveCount` receives it goes to the
 * dead-letter list. `receive` and `delete` are the consumer's side (the worker).
 */
export class MemoryRunQueue implements RunQueue {
  readonly #clock: Clock;
  readonly #visibilityTimeoutSeconds: number;
  readonly #maxReceiveCount: number;
  #messages: StoredMessage[] = [];
  readonly #sent = new Map<string, number>();
  readonly #deadLetters: ReceivedRunMessage[] = [];
  #sequence = 0;

  constructor(options: { clock: Clock; visibilityTimeoutSeconds?: number; maxReceiveCount?: number }) {
    this.#clock = options.clock;
    this.#visibilityTimeoutSeconds = options.visibilityTimeoutSeconds ?? 30;
    this.#maxReceiveCount = options.maxReceiveCount ?? RUN_QUEUE.maxReceiveCount;
  }

  async enqueue(message: RunMessage, sendId?: string): Promise<void> {
    const now = this.#clock.now().getTime();
    const lane = runLaneOf(message);
    if (lane === "fifo") {
      const dedupId = `${message.tenant}/${message.runId}${sendId === undefined ? "" : `/${sendId}`}`;
      const sentAt = this.#sent.get(dedupId);
      if (sentAt !== undefined && now - sentAt < DEDUP_WINDOW_MS) return;
      this.#sent.set(dedupId, now);
    }
    const body = runMessageBody(message);
    this.#sequence += 1;
    this.#messages.push({
      messageId: `m${this.#sequence}`,
      body: JSON.stringify(body),
      lane,
      groupId: messageGroupId(message),
      receiveCount: 0,
    });
  }

  async enqueueBulkPage(message: BulkPageMessage): Promise<void> {
    this.#sequence += 1;
    this.#messages.push({
      messageId: `m${this.#sequence}`,
      body: JSON.stringify(bulkPageBody(message)),
      lane: "fair",
      groupId: message.tenant,
      receiveCount: 0,
    });
  }

  async setVisibility(receipt: RunReceipt, seconds: number): Promise<void> {
    const now = this.#clock.now().getTime();
    const message = this.#messages.find((m) => m.lane === receipt.lane && m.receiptHandle === receipt.handle);
    // Deleted, or no longer in flight: SQS refuses, and the adapter treats that as nothing to hide.
    if (message?.hiddenUntil === undefined || message.hiddenUntil <= now) return;
    const clamped = Math.min(AWS_LIMITS.sqsMaxVisibilitySeconds, Math.max(0, Math.round(seconds)));
    message.hiddenUntil = now + clamped * 1000;
  }

  /**
   * Up to `max` visible messages: FIFO-lane messages in order, skipping groups that have a
   * message in flight; fair-lane messages of the least busy tenants first, then in send order.
   */
  receive(max = 10): ReceivedRunMessage[] {
    const now = this.#clock.now().getTime();
    const inFlight = (m: StoredMessage) => m.hiddenUntil !== undefined && m.hiddenUntil > now;
    const blocked = new Set(
      this.#messages.filter((m) => m.lane === "fifo" && inFlight(m)).map((m) => m.groupId),
    );
    const candidates: StoredMessage[] = [];
    for (const message of [...this.#messages]) {
      if (inFlight(message) || (message.lane === "fifo" && blocked.has(message.groupId))) continue;
      if (message.receiveCount >= this.#maxReceiveCount) {
        this.#messages = this.#messages.filter((m) => m !== message);
        this.#deadLetters.push(toReceived(message));
        continue;
      }
      candidates.push(message);
    }
    const inFlightFair = this.#messages.filter((m) => m.lane === "fair" && inFlight(m));
    // FIFO messages are never held back by load: each is a group of its own with nothing in flight.
    const order = fairOrder(candidates, inFlightFair, (m) =>
      m.lane === "fair" ? `fair:${m.groupId}` : m.messageId,
    );
    const received: ReceivedRunMessage[] = [];
    for (const message of order.slice(0, max)) {
      this.#sequence += 1;
      message.receiveCount += 1;
      message.receiptHandle = `${message.messageId}:${this.#sequence}`;
      message.hiddenUntil = now + this.#visibilityTimeoutSeconds * 1000;
      received.push(toReceived(message));
    }
    return received;
  }

  /** Deletes a received message; a stale receipt handle deletes nothing. */
  delete(receipt: RunReceipt): void {
    this.#messages = this.#messages.filter(
      (m) => m.lane !== receipt.lane || m.receiptHandle !== receipt.handle,
    );
  }

  /** Every message not yet deleted, visible or not. */
  get size(): number {
    return this.#messages.length;
  }

  /** When the next hidden message shows again; undefined when none is hidden. */
  nextVisibleAt(): Date | undefined {
    const now = this.#clock.now().getTime();
    const times = this.#messages.flatMap((m) =>
      m.hiddenUntil !== undefined && m.hiddenUntil > now ? [m.hiddenUntil] : [],
    );
    return times.length === 0 ? undefined : new Date(Math.min(...times));
  }

  /** The bodies of the messages not yet deleted, in order (for assertions). */
  pendingBodies(): RunMessageBody[] {
    return this.#messages.map((m) => JSON.parse(m.body) as RunMessageBody);
  }

  /** The run ids of the messages not yet deleted, in order (for assertions). */
  pendingRunIds(): string[] {
    return this.pendingBodies().map((body) => body.runId);
  }

  /** Messages received `maxReceiveCount` times without being deleted. */
  get deadLetters(): readonly ReceivedRunMessage[] {
    return this.#deadLetters;
  }
}

function toReceived(message: StoredMessage): ReceivedRunMessage {
  return {
    messageId: message.messageId,
    body: message.body,
    groupId: message.groupId,
    receipt: { lane: message.lane, handle: message.receiptHandle ?? "" },
    receiveCount: message.receiveCount,
  };
}
