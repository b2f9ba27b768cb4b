/** The in-memory adapters (shared/memory) against the same contract suites as the AWS ones. */
import { ManualClock } from "../../shared/memory/manual-clock.ts";
import { MemoryCounterStore } from "../../shared/memory/memory-counter-store.ts";
import { MemoryDefinitionStore } from "../../shared/memory/memory-definition-store.ts";
import { MemoryDestinationStore } from "../../shared/memory/memory-destination-store.ts";
import { MemoryRunQueue } from "../../shared/memory/memory-run-queue.ts";
import { MemoryRunStore } from "../../shared/memory/memory-run-store.ts";
import { MemoryStartRateStore } from "../../shared/memory/memory-start-rate-store.ts";
import { MemoryTenantStore } from "../../shared/memory/memory-tenant-store.ts";
import { admissionStoreContract } from "./admission-store.contract.ts";
import { definitionStoreContract } from "./definition-store.contract.ts";
import { destinationStoreContract } from "./destination-store.contract.ts";
import { runQueueContract } from "./run-queue.contract.ts";
import { runStoreContract } from "./run-store.contract.ts";
import { startRateStoreContract } from "./start-rate-store.contract.ts";
import { tenantStoreContract } from "./tenant-store.contract.ts";

runStoreContract("MemoryRunStore", async () => new MemoryRunStore({ counters: new MemoryCounterStore() }));

admissionStoreContract("MemoryRunStore + MemoryCounterStore", async () => {
  const counters = new MemoryCounterStore();
  return { runs: new MemoryRunStore({ counters }), counters };
});

definitionStoreContract("MemoryDefinitionStore", async () => new MemoryDefinitionStore());

tenantStoreContract("MemoryTenantStore", async () => new MemoryTenantStore());

destinationStoreContract("MemoryDestinationStore", async () => new MemoryDestinationStore());

// One process's memory is the whole state: every handle is the same store.
startRateStoreContract("MemoryStartRateStore", async () => {
  const store = new MemoryStartRateStore();
  return () => store;
});

runQueueContract("MemoryRunQueue", async () => {
  const queue = new MemoryRunQueue({ clock: new ManualClock(), visibilityTimeoutSeconds: 30 });
  return {
    queue,
    async receive() {
      return queue.receive(10).map((m) => ({ body: m.body, groupId: m.groupId, receipt: m.receipt }));
    },
    async remove(receipt) {
      queue.delete(receipt);
    },
  };
});
