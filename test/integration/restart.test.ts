/** `npm run dev` keeps its state in a data folder: a stopped and restarted stack loses nothing. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { startLocalStack } from "../../local/stack.ts";
import { ensureTenantKey } from "../../shared/app/identity.ts";
import { startTask } from "../../shared/app/tasks.ts";
import { newApiKey } from "../../shared/core/tenant.ts";
import { silentLog, waitFor } from "../support/stack.ts";
import { testRegistry } from "../support/test-tasks.ts";

it("keeps tenants, keys, definitions, finished runs and queued messages across a restart", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "baton-data-"));
  const key = newApiKey().key;
  const options = { registry: testRegistry, dataDir, port: 0, log: silentLog, leaseSeconds: 5 } as const;
  const caller = { kind: "tenant", tenant: "acme", role: "admin", keyId: "k" } as const;

  // First life: one run finishes; a second is accepted while no worker runs, then the stack stops.
  const first = await startLocalStack({ ...options, runWorker: false });
  await ensureTenantKey(first.services, { tenant: "acme", role: "admin", key });
  const authorization = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  await fetch(`${first.url}/v1/definitions/echo`, {
    method: "PUT",
    headers: authorization,
    body: JSON.stringify({ handler: "echo" }),
  });
  const { run: done } = await startTask(first.services, caller, { definition: "echo", params: { n: 1 } });
  first.startWorker();
  await waitFor(async () =>
    (await first.services.runs.get(done))?.status === "succeeded" ? true : undefined,
  );
  await first.stopWorker();
  const { run: pending } = await startTask(first.services, caller, { definition: "echo", params: { n: 2 } });
  await first.stop();

  // Second life on the same folder: the key still works, and the pending run now completes.
  const second = await startLocalStack(options);
  try {
    const finished = await fetch(`${second.url}/v1/tasks/${done.id}`, { headers: authorization });
    expect(finished.status).toBe(200);
    expect(await finished.json()).toMatchObject({ status: "succeeded", output: { n: 1 } });
    const resumed = await waitFor(async () => {
      const run = await second.services.runs.get(pending);
      return run?.status === "succeeded" ? run : undefined;
    });
    expect(resumed.output).toEqual({ n: 2 });
  } finally {
    await second.stop();
  }
});
