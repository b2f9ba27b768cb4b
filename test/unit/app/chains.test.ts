/** Chains: a succeeding run starts the next task, in its tenant or, with a grant, in another. */
import { describe, expect, it } from "vitest";
import { chainChildId, grantAccess, putChain, revokeAccess } from "../../../shared/app/chains.ts";
import { taskFileLink, tokenFileLink } from "../../../shared/app/files.ts";
import { createTenant } from "../../../shared/app/identity.ts";
import { sweep } from "../../../shared/app/sweeper.ts";
import { listTasks } from "../../../shared/app/tasks.ts";
import { NotFoundError, UnauthorizedError } from "../../../shared/core/errors.ts";
import { isSealed } from "../../../shared/core/sealed.ts";
import { type AppHarness, appHarness, caller } from "../../support/memory-app.ts";

async function withChain(h: AppHarness, tenant = "acme") {
  await h.define("next", { handler: "echo" }, tenant);
  await putChain(h.svc, tenant, "then-echo", { definition: "next" });
}

describe("chains", () => {
  it("start the chained task when a run succeeds, with params computed from the run, and record the outcome", async () => {
    const h = appHarness();
    await withChain(h);
    await h.define("first", { handler: "echo" });
    const run = await h.start({
      definition: "first",
      params: { order: 7 },
      chain: {
        name: "then-echo",
        params: [
          { name: "order", value: "@Output.order@" },
          { name: "from", value: "task @TaskID@ by @UserID@" },
        ],
      },
    });
    await h.drain();
    const childId = chainChildId(run, 0);
    expect(await h.run(run.id)).toMatchObject({
      status: "succeeded",
      chainOutcomes: [{ name: "then-echo", customerId: "acme", status: "started", childTaskId: childId }],
    });
    expect((await h.run(run.id)).sweepAt).toBeUndefined();
    expect(await h.run(childId)).toMatchObject({
      status: "succeeded",
      definition: "next",
      output: { order: 7, from: `task ${run.id} by ${h.runner.keyId}` },
    });
  });

  it("start nothing when the run fails", async () => {
    const h = appHarness();
    await withChain(h);
    await h.define("fail", { handler: "fail", maxAttempts: 1 });
    const run = await h.start({ definition: "fail", chain: { name: "then-echo" } });
    await h.drain();
    expect((await h.run(run.id)).status).toBe("failed");
    expect((await listTasks(h.svc, h.admin, { definition: "next" })).items).toEqual([]);
  });

  it("reach another tenant only with its grant, and say the same whether the chain is missing or not granted", async () => {
    const h = appHarness();
    await createTenant(h.svc, { id: "acme" });
    await createTenant(h.svc, { id: "globex" });
    await withChain(h, "globex");
    await h.define("first", { handler: "echo" });
    const chain = (name: string) => ({ customerId: "globex", name, params: [{ name: "n", value: 1 }] });

    const denied = await h.start({
      definition: "first",
      chain: [chain("then-echo"), chain("no-such-chain")],
    });
    await h.drain();
    const outcomes = (await h.run(denied.id)).chainOutcomes ?? [];
    expect(outcomes.map((o) => [o.status, o.error?.code])).toEqual([
      ["failed", "chain_access_denied"],
      ["failed", "chain_access_denied"],
    ]);
    expect(outcomes[0]?.error?.message.replace("then-echo", "X")).toBe(
      outcomes[1]?.error?.message.replace("no-such-chain", "X"),
    );
    expect((await listTasks(h.svc, caller("globex"), {})).items).toEqual([]);

    await grantAccess(h.svc, "globex", "acme", "then-echo");
    const granted = await h.start({ definition: "first", chain: chain("then-echo") });
    await h.drain();
    const childId = chainChildId(granted, 0);
    expect((await h.run(granted.id)).chainOutcomes).toEqual([
      { name: "then-echo", customerId: "globex", status: "started", childTaskId: childId },
    ]);
    expect(await h.run(childId, "globex")).toMatchObject({
      status: "succeeded",
      output: { n: 1 },
      createdBy: "chain:acme",
    });
    // The source tenant cannot see the child: it is globex's run.
    expect((await listTasks(h.svc, h.admin, { definition: "next" })).items).toEqual([]);

    await revokeAccess(h.svc, "globex", "acme", "then-echo");
    const revoked = await h.start({ definition: "first", chain: chain("then-echo") });
    await h.drain();
    expect((await h.run(revoked.id)).chainOutcomes?.[0]?.error?.code).toBe("chain_access_denied");
  });

  it("start a chained task once even when its emission is repeated (the sweeper after a crash)", async () => {
    const h = appHarness();
    await withChain(h);
    await h.define("first", { handler: "echo" });
    const run = await h.start({ definition: "first", chain: { name: "then-echo" } });
    await h.drain();
    // As if the process had died between the run's end and the emission: the sweeper emits again.
    const ended = await h.run(run.id);
    await h.svc.runs.update(
      ended,
      { status: "succeeded", attempts: ended.attempts },
      { chainOutcomes: null, sweepAt: h.clock.now().toISOString() },
    );
    await sweep(h.svc);
    expect((await h.run(run.id)).chainOutcomes).toEqual([
      { name: "then-echo", customerId: "acme", status: "started", childTaskId: chainChildId(run, 0) },
    ]);
    expect((await listTasks(h.svc, h.admin, { definition: "next" })).items).toHaveLength(1);
    expect(h.metrics.total("RunsStarted", { definition: "next" })).toBe(1);
  });

  it("record a param the run cannot supply as a failed chain; the run stays succeeded", async () => {
    const h = appHarness();
    await withChain(h);
    await h.define("first", { handler: "echo" });
    const run = await h.start({
      definition: "first",
      chain: { name: "then-echo", params: [{ name: "x", value: "@Output.missing@" }] },
    });
    await h.drain();
    expect(await h.run(run.id)).toMatchObject({
      status: "succeeded",
      chainOutcomes: [{ status: "failed", error: { code: "chain_param_error" } }],
    });
  });

  it("keep encrypted values sealed at rest, bound to the run that holds them, open only for the child's handler", async () => {
    const h = appHarness();
    await withChain(h);
    await h.define("first", { handler: "echo" });
    const run = await h.start({
      definition: "first",
      chain: { name: "then-echo", params: [{ name: "password", value: "hunter2-secret", encrypt: true }] },
    });
    const sealed = (await h.run(run.id)).chains?.[0]?.params[0]?.value;
    expect(isSealed(sealed)).toBe(true);
    expect(JSON.stringify(await h.run(run.id))).not.toContain("hunter2");
    await h.drain();
    const child = await h.run(chainChildId(run, 0));
    expect(isSealed(child.params.password)).toBe(true);
    expect(child.params.password).not.toBe(sealed);
    // The echo handler saw the clear text (and, being echo, returned it).
    expect(child.output).toEqual({ password: "hunter2-secret" });
  });

  it("hand a chained task a signed link to the run's file, valid for its lifetime only", async () => {
    const h = appHarness();
    await withChain(h);
    await h.define("file", { handler: "write-file" });
    const run = await h.start({
      definition: "file",
      params: { name: "out.txt", text: "hello" },
      chain: { name: "then-echo", params: [{ name: "link", value: "@FileToken.60@" }] },
    });
    await h.drain();
    // The chained task (echo) returns its params: the token it was handed.
    const { link: token } = (await h.run(chainChildId(run, 0))).output as { link: string };
    const key = encodeURIComponent(`acme/${run.id}/out.txt`);
    expect(await tokenFileLink(h.svc, token)).toMatch(new RegExp(`^memory://files/${key}\\?name=out.txt&`));
    // The owner reaches it with a key; another tenant does not, and no file is not found.
    expect(await taskFileLink(h.svc, h.runner, run.id, "out.txt")).toMatch(`memory://files/${key}`);
    await expect(taskFileLink(h.svc, caller("globex"), run.id, "out.txt")).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(taskFileLink(h.svc, h.runner, run.id, "other.txt")).rejects.toBeInstanceOf(NotFoundError);
    h.clock.advance(60_000);
    await expect(tokenFileLink(h.svc, token)).rejects.toBeInstanceOf(UnauthorizedError);
  });
});
