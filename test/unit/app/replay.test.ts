/** Replay and encrypted values: sealed chain templates are sealed again for the replay; sealed params are refused. */
import { describe, expect, it } from "vitest";
import { chainChildId, putChain } from "../../../shared/app/chains.ts";
import { replayTask } from "../../../shared/app/replay.ts";
import { ConflictError } from "../../../shared/core/errors.ts";
import { isSealed } from "../../../shared/core/sealed.ts";
import { appHarness } from "../../support/memory-app.ts";

/** A run that succeeded with a chain carrying an encrypted value, and the hop that chain started. */
async function chainedWithSecret() {
  const h = appHarness();
  await h.define("next", { handler: "echo" });
  await putChain(h.svc, "acme", "then-echo", { definition: "next" });
  await h.define("first", { handler: "echo" });
  const run = await h.start({
    definition: "first",
    chain: { name: "then-echo", params: [{ name: "password", value: "hunter2-secret", encrypt: true }] },
  });
  await h.drain();
  return { h, run };
}

describe("replay", () => {
  it("seals a run's encrypted chain templates again, bound to the replay, and its chain still opens them", async () => {
    const { h, run } = await chainedWithSecret();
    const { run: replayed } = await replayTask(h.svc, h.runner, run.id, {});
    const stored = await h.run(replayed.id);
    const sealed = stored.chains?.[0]?.params[0]?.value;
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toBe((await h.run(run.id)).chains?.[0]?.params[0]?.value);
    expect(JSON.stringify(stored)).not.toContain("hunter2");
    await h.drain();
    expect((await h.run(chainChildId(replayed, 0))).output).toEqual({ password: "hunter2-secret" });
  });

  it("refuses a run whose params are sealed to it (a chain hop's encrypted values), writing nothing", async () => {
    const { h, run } = await chainedWithSecret();
    const hop = chainChildId(run, 0);
    const before = (await h.svc.runs.list({ tenant: "acme", limit: 100 })).items.length;
    const refused = replayTask(h.svc, h.runner, hop, {});
    await expect(refused).rejects.toBeInstanceOf(ConflictError);
    await expect(refused).rejects.toMatchObject({ code: "sealed_params" });
    expect((await h.svc.runs.list({ tenant: "acme", limit: 100 })).items.length).toBe(before);
  });
});
