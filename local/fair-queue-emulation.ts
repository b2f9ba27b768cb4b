/**
 * SQS fair queues, emulated in fauxqs. On AWS a standard queue whose messages carry a
 * MessageGroupId is a fair queue: when one group (here, one tenant) has a backlog, SQS hands out
 * the other groups' messages first, so a quiet tenant's message does not wait behind a noisy
 * tenant's thousands. fauxqs 2.4 serves standard queues first in, first out and drops the
 * MessageGroupId of a standard queue's message, so `npm run dev` and the tests would not show the
 * behaviour Baton relies on. This patch reorders a fair queue's ready messages before each receive:
 * messages of the groups with the fewest messages in flight first, send order within a group, as
 * AWS's documentation describes the outcome (its exact algorithm is not published).
 *
 * The group comes from the message's MessageGroupId when fauxqs keeps it, else from the run
 * message body's `tenant`, which is what the run queue adapter sends as the MessageGroupId.
 * Only queues whose name ends in "-fair" (local/bootstrap.ts) are patched.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { fairOrder } from "../shared/memory/fair-order.ts";

interface FauxqsMessage {
  body: string;
  messageGroupId?: string;
}

interface FauxqsQueue {
  name: string;
  messages: FauxqsMessage[];
  inflightMessages: Map<string, { message: FauxqsMessage }>;
  isFifo(): boolean;
  processTimers(): void;
  dequeue(maxCount: number, ...rest: unknown[]): unknown[];
}

export const FAIR_QUEUE_SUFFIX = "-fair";

let patched: Promise<void> | undefined;

/** Patches fauxqs's queue class once per process (every fauxqs server in it shares the class). */
export function emulateFairQueues(): Promise<void> {
  patched ??= (async () => {
    // fauxqs exports only its server; its queue class lives next to it in the package.
    const file = (createRequire(import.meta.url).resolve.paths("fauxqs") ?? [])
      .map((folder) => join(folder, "fauxqs", "dist", "sqs", "sqsStore.js"))
      .find((candidate) => existsSync(candidate));
    if (file === undefined)
      throw new Error("fauxqs's queue class was not found (local/fair-queue-emulation.ts)");
    const store = (await import(pathToFileURL(file).href)) as {
      SqsQueue?: { prototype: FauxqsQueue };
    };
    const prototype = store.SqsQueue?.prototype;
    if (prototype === undefined || typeof prototype.dequeue !== "function") {
      throw new Error("fauxqs changed: its SqsQueue class was not found (local/fair-queue-emulation.ts)");
    }
    const dequeue = prototype.dequeue;
    prototype.dequeue = function fairDequeue(this: FauxqsQueue, maxCount: number, ...rest: unknown[]) {
      if (!this.isFifo() && this.name.endsWith(FAIR_QUEUE_SUFFIX)) {
        // Messages whose visibility ran out rejoin the ready list first, as dequeue would do.
        this.processTimers();
        this.messages = fauxqsFairOrder(
          this.messages,
          [...this.inflightMessages.values()].map((e) => e.message),
        );
      }
      return dequeue.call(this, maxCount, ...rest);
    };
  })();
  return patched;
}

/** fairOrder over fauxqs's messages, grouped as the run queue adapter groups them. */
export function fauxqsFairOrder<M extends FauxqsMessage>(ready: readonly M[], inFlight: readonly M[]): M[] {
  return fairOrder(ready, inFlight, groupOf);
}

/** Read once per message: a receive reorders the whole ready list, thousands of messages. */
const groups = new WeakMap<FauxqsMessage, string>();

function groupOf(message: FauxqsMessage): string {
  if (message.messageGroupId !== undefined) return message.messageGroupId;
  let group = groups.get(message);
  if (group === undefined) {
    try {
      const tenant = (JSON.parse(message.body) as { tenant?: unknown }).tenant;
      group = typeof tenant === "string" ? tenant : "";
    } catch {
      group = "";
    }
    groups.set(message, group);
  }
  return group;
}
