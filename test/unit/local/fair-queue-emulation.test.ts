/** The order in which the local SQS emulator hands out a fair queue's messages. */
import { describe, expect, it } from "vitest";
import { fauxqsFairOrder as fairOrder } from "../../../local/fair-queue-emulation.ts";

const message = (tenant: string, n: number) => ({
  body: JSON.stringify({ v: 1, tenant, runId: `${tenant}${n}` }),
});
const ids = (messages: { body: string }[]) => messages.map((m) => JSON.parse(m.body).runId);

describe("fairOrder", () => {
  it("takes turns between tenants, each tenant's messages in send order", () => {
    const ready = [message("a", 1), message("a", 2), message("a", 3), message("b", 1), message("b", 2)];
    expect(ids(fairOrder(ready, []))).toEqual(["a1", "b1", "a2", "b2", "a3"]);
  });

  it("puts a tenant with messages in flight behind those with fewer", () => {
    const ready = [message("noisy", 3), message("noisy", 4), message("quiet", 1)];
    const inFlight = [message("noisy", 1), message("noisy", 2)];
    expect(ids(fairOrder(ready, inFlight))).toEqual(["quiet1", "noisy3", "noisy4"]);
  });

  it("prefers a MessageGroupId the emulator kept over the body's tenant", () => {
    const ready = [
      { ...message("a", 1), messageGroupId: "g" },
      { ...message("b", 1), messageGroupId: "g" },
      message("c", 1),
    ];
    expect(ids(fairOrder(ready, [{ ...message("x", 0), messageGroupId: "g" }]))).toEqual(["c1", "a1", "b1"]);
  });
});
