/**
 * Chains as an attacker would use them (issue 12): a grant for one chain must not open others,
 * in the target or beyond it, and no chain tree may grow without bound.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NAME_PATTERN } from "../../shared/core/names.ts";
import { startTestStack, type TestStack, waitFor } from "../support/stack.ts";

let stack: TestStack;
const keys: Record<string, string> = {};

async function tenant(id: string): Promise<string> {
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id } });
  const key = (
    await stack.request("POST", `/v1/tenants/${id}/keys`, { key: stack.rootKey, body: { role: "admin" } })
  ).body.key;
  keys[id] = key;
  await stack.request("PUT", "/v1/definitions/echo", { key, body: { handler: "echo" } });
  return key;
}

async function define(owner: string, name: string, body: Record<string, unknown>, chain = name) {
  const key = keys[owner];
  expect((await stack.request("PUT", `/v1/definitions/${name}-def`, { key, body })).status).toBeLessThan(300);
  expect(
    (await stack.request("PUT", `/v1/chains/${chain}`, { key, body: { definition: `${name}-def` } })).status,
  ).toBeLessThan(300);
}

async function grant(target: string, source: string, chain: string) {
  const put = await stack.request("PUT", `/v1/access/${source}/${chain}`, { key: keys[target] });
  expect(put.status).toBe(201);
}

/** A run of `owner`, once it ended and (if it succeeded with chains) its chain outcomes are in. */
async function settled(owner: string, id: string, chained = true) {
  return waitFor(
    async () => {
      const run = (await stack.request("GET", `/v1/tasks/${id}`, { key: keys[owner] })).body;
      if (run.status === "succeeded" && (!chained || (run.chainOutcomes?.length ?? 0) > 0)) return run;
      if (["failed", "cancelled", "timed_out"].includes(run.status)) return run;
      return undefined;
    },
    30_000,
    `run ${id} of ${owner} to settle`,
  );
}

async function start(owner: string, body: Record<string, unknown>) {
  const started = await stack.request("POST", "/v1/tasks", { key: keys[owner], body });
  expect(started.status).toBe(202);
  return settled(owner, started.body.taskId);
}

async function runsOf(owner: string, definition: string) {
  return (await stack.request("GET", `/v1/tasks?limit=100&definition=${definition}`, { key: keys[owner] }))
    .body.items;
}

/** Follows a chain of single hops from `id` until one does not start; returns every run on the way. */
// biome-ignore lint/suspicious/noExplicitAny: task views are JSON
async function follow(owner: string, id: string): Promise<any[]> {
  const path = [await settled(owner, id)];
  for (;;) {
    const outcome = path[path.length - 1].chainOutcomes?.[0];
    if (outcome?.status !== "started") return path;
    path.push(await settled(outcome.customerId, outcome.childTaskId));
  }
}

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3 });
  for (const id of ["dev", "prod", "bank", "loop", "fan", "ping", "pong", "tree"]) await tenant(id);
  await define("prod", "notify", { handler: "echo" });
  await define("prod", "danger", { handler: "echo" });
  await grant("prod", "dev", "notify");
  await define("bank", "pay", { handler: "echo" });
  await grant("bank", "prod", "pay");
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("a grant for one chain", () => {
  it("does not let the source pass chain specs to the target's other chains", async () => {
    const danger = JSON.stringify({ name: "danger", params: [{ name: "cmd", value: "drop everything" }] });
    const source = await start("dev", {
      definition: "echo",
      params: { payload: danger },
      chain: [
        // Written into the hop's params directly, and computed from the source's own params.
        { customerId: "prod", name: "notify", params: [{ name: "async-TaskChain", value: danger }] },
        {
          customerId: "prod",
          name: "notify",
          params: [{ name: "async-TaskChain", value: "@Param.payload@" }],
        },
        // Aimed past the target, at a tenant that granted the target.
        {
          customerId: "prod",
          name: "notify",
          params: [{ name: "async-TaskChain", value: JSON.stringify({ customerId: "bank", name: "pay" }) }],
        },
        // The grant itself still works.
        { customerId: "prod", name: "notify", params: [{ name: "note", value: "hello" }] },
      ],
    });
    expect(source.chainOutcomes.map((outcome: { error?: { code: string } }) => outcome.error?.code)).toEqual([
      "chain_spec_forbidden",
      "chain_spec_forbidden",
      "chain_spec_forbidden",
      undefined,
    ]);
    const child = await settled("prod", source.chainOutcomes[3].childTaskId, false);
    expect(child.output).toEqual({ note: "hello" });
    expect(await runsOf("prod", "notify-def")).toHaveLength(1);
    expect(await runsOf("prod", "danger-def")).toEqual([]);
    expect(await runsOf("bank", "pay-def")).toEqual([]);
  });

  it("holds every later hop of the tree to the grants of the tenant that started it, in the target and beyond", async () => {
    // The target's own definition chains on (prod's decision, not dev's): to prod's danger and to bank.
    const onward = JSON.stringify([{ customerId: "bank", name: "pay" }, { name: "danger" }]);
    await define("prod", "relay", { handler: "echo", params: { "async-TaskChain": onward } });
    await grant("prod", "dev", "relay");

    const source = await start("dev", { definition: "echo", chain: { customerId: "prod", name: "relay" } });
    expect(source.chainOutcomes[0]).toMatchObject({ status: "started", customerId: "prod" });
    const relayed = await settled("prod", source.chainOutcomes[0].childTaskId);
    expect(relayed.chainOutcomes).toMatchObject([
      { customerId: "bank", name: "pay", status: "failed", error: { code: "chain_access_denied" } },
      { customerId: "prod", name: "danger", status: "failed", error: { code: "chain_access_denied" } },
    ]);
    // The refusal names only the tree's own tenant: nothing about the third tenant leaks.
    expect(relayed.chainOutcomes[0].error.message).toContain('grants "dev"');
    expect(await runsOf("bank", "pay-def")).toEqual([]);
    expect(await runsOf("prod", "danger-def")).toEqual([]);

    // The same relay started by prod itself reaches both: the grants it holds are its own.
    const own = await start("prod", { definition: "relay-def" });
    expect(own.chainOutcomes.map((outcome: { status: string }) => outcome.status)).toEqual([
      "started",
      "started",
    ]);
  });

  it("stops a cross-tenant loop at the next hop once revoked", async () => {
    // ping and pong each chain into the other (their own definitions' decision), through grants.
    const slow = { handler: "sleep", params: { ms: 1_500, steps: 1 } };
    await define("ping", "ping", {
      ...slow,
      params: { ...slow.params, "async-TaskChain": JSON.stringify({ customerId: "pong", name: "pong" }) },
    });
    await define("pong", "pong", {
      ...slow,
      params: { ...slow.params, "async-TaskChain": JSON.stringify({ customerId: "ping", name: "ping" }) },
    });
    await grant("pong", "ping", "pong");
    await grant("ping", "pong", "ping");

    const started = await stack.request("POST", "/v1/tasks", {
      key: keys.ping,
      body: { definition: "ping-def" },
    });
    await waitFor(async () => ((await runsOf("pong", "pong-def")).length > 0 ? true : undefined));
    expect((await stack.request("DELETE", "/v1/access/ping/pong", { key: keys.pong })).status).toBe(204);

    const path = await follow("ping", started.body.taskId);
    const last = path[path.length - 1];
    expect(last.chainOutcomes[0]).toMatchObject({
      customerId: "pong",
      error: { code: "chain_access_denied" },
    });
    expect(path.length).toBeLessThan(8);
    expect(await runsOf("pong", "pong-def")).toHaveLength(
      path.filter((_run, index) => index % 2 === 1).length,
    );
  });
});

describe("chain trees", () => {
  it("end a self-loop at the depth limit, every hop's id inside the id grammar, readable and cancellable", async () => {
    await define("loop", "loop", { handler: "echo" });
    const again = JSON.stringify({
      name: "loop",
      params: [
        { name: "async-TaskChain", value: "@Param.next@" },
        { name: "next", value: "@Param.next@" },
      ],
    });
    const started = await stack.request("POST", "/v1/tasks", {
      key: keys.loop,
      body: { definition: "echo", params: { next: again, "async-TaskChain": again } },
    });
    const path = await follow("loop", started.body.taskId);
    expect(path).toHaveLength(9); // the root and 8 hops
    expect(path[8].chainOutcomes[0]).toMatchObject({
      status: "failed",
      error: { code: "chain_depth_exceeded" },
    });
    for (const run of path) {
      expect(run.taskId).toMatch(NAME_PATTERN);
      expect((await stack.request("GET", `/v1/tasks/${run.taskId}`, { key: keys.loop })).status).toBe(200);
      // Ended already: the cancel route finds it and says so (no 404, no 400 on the id).
      expect((await stack.request("POST", `/v1/tasks/${run.taskId}/cancel`, { key: keys.loop })).status).toBe(
        409,
      );
    }
  });

  it("stop a fan-out of 10 at the tree size limit the operator set", async () => {
    expect(
      (await stack.request("PUT", "/v1/tenants/fan/limits", { key: keys.fan, body: { maxChainTree: 15 } }))
        .status,
    ).toBe(403);
    const set = await stack.request("PUT", "/v1/tenants/fan/limits", {
      key: stack.rootKey,
      body: { maxChainTree: 15 },
    });
    expect(set.status).toBe(200);
    expect(set.body.limits).toEqual({ maxChainTree: 15 });
    expect(
      (
        await stack.request("PUT", "/v1/tenants/fan/limits", {
          key: stack.rootKey,
          body: { maxChainDepth: 17 },
        })
      ).status,
    ).toBe(400);

    await define("fan", "fan", { handler: "echo" });
    const one = {
      name: "fan",
      params: [
        { name: "async-TaskChain", value: "@Param.next@" },
        { name: "next", value: "@Param.next@" },
      ],
    };
    const ten = JSON.stringify(Array.from({ length: 10 }, () => one));
    await stack.request("POST", "/v1/tasks", {
      key: keys.fan,
      body: { definition: "echo", params: { next: ten, "async-TaskChain": ten } },
    });
    // 15 runs (the root, its 10 children, 4 grandchildren); each of the 15 emitted 10 chains.
    // biome-ignore lint/suspicious/noExplicitAny: task views are JSON
    const all: any[] = await waitFor(
      async () => {
        const listed = (await stack.request("GET", "/v1/tasks?limit=100", { key: keys.fan })).body.items;
        // Lists show summaries: each run's chain outcomes are on the run itself.
        const items = await Promise.all(
          listed.map(
            async (run: { taskId: string }) =>
              (await stack.request("GET", `/v1/tasks/${run.taskId}`, { key: keys.fan })).body,
          ),
        );
        const done = items.filter(
          // biome-ignore lint/suspicious/noExplicitAny: task views are JSON
          (run: any) => run.status === "succeeded" && run.chainOutcomes?.length === 10,
        );
        return items.length >= 15 && done.length === items.length ? items : undefined;
      },
      90_000,
      "the fan-out to settle",
    );
    expect(all).toHaveLength(15);
    const outcomes = all.flatMap((run) => run.chainOutcomes);
    expect(outcomes.filter((outcome) => outcome.status === "started")).toHaveLength(14);
    expect(outcomes.filter((outcome) => outcome.error?.code === "chain_tree_too_large")).toHaveLength(136);
  }, 120_000);

  it("cancel with ?tree=true: the run and everything below it in the caller's tenant, again harmlessly, never another tenant's", async () => {
    await define("tree", "slow", { handler: "sleep", params: { ms: 30_000, steps: 30 }, maxConcurrency: 1 });
    const source = await start("tree", {
      definition: "echo",
      chain: [{ name: "slow" }, { name: "slow" }, { name: "slow" }],
    });
    const children: string[] = source.chainOutcomes.map(
      (outcome: { childTaskId: string }) => outcome.childTaskId,
    );
    expect(children).toHaveLength(3);

    // Another tenant cannot reach the tree, by id or by walking.
    expect(
      (await stack.request("POST", `/v1/tasks/${source.taskId}/cancel?tree=true`, { key: keys.dev })).status,
    ).toBe(404);
    // The source ended already: a plain cancel says so; a tree cancel goes below it.
    expect(
      (await stack.request("POST", `/v1/tasks/${source.taskId}/cancel`, { key: keys.tree })).status,
    ).toBe(409);
    const cancelled = await stack.request("POST", `/v1/tasks/${source.taskId}/cancel?tree=true`, {
      key: keys.tree,
    });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({
      taskId: source.taskId,
      status: "succeeded",
      tree: { complete: true },
    });
    expect([...cancelled.body.tree.cancelled].sort()).toEqual([...children].sort());
    for (const id of children) {
      const run = await waitFor(async () => {
        const view = (await stack.request("GET", `/v1/tasks/${id}`, { key: keys.tree })).body;
        return view.status === "cancelled" ? view : undefined;
      });
      expect(run.status).toBe("cancelled");
    }
    const again = await stack.request("POST", `/v1/tasks/${source.taskId}/cancel?tree=true`, {
      key: keys.tree,
    });
    expect(again.body.tree).toEqual({ cancelled: [], complete: true });
    expect(
      (await stack.request("POST", `/v1/tasks/${source.taskId}/cancel?tree=maybe`, { key: keys.tree }))
        .status,
    ).toBe(400);
  });
});
