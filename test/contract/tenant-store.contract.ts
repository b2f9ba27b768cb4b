import { beforeEach, describe, expect, it } from "vitest";
import { ConflictError } from "../../shared/core/errors.ts";
import type { TenantStore } from "../../shared/core/ports.ts";

export function tenantStoreContract(name: string, makeStore: () => Promise<TenantStore>): void {
  describe(`TenantStore contract: ${name}`, () => {
    let store: TenantStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it("creates a tenant once", async () => {
      await store.createTenant({ id: "acme", createdAt: "2026-01-01T00:00:00.000Z" });
      await expect(
        store.createTenant({ id: "acme", createdAt: "2026-01-02T00:00:00.000Z" }),
      ).rejects.toBeInstanceOf(ConflictError);
      expect(await store.getTenant("acme")).toEqual({ id: "acme", createdAt: "2026-01-01T00:00:00.000Z" });
      expect(await store.getTenant("globex")).toBeUndefined();
    });

    it("finds a key by its hash, and never stores two with one hash", async () => {
      const key = {
        keyHash: "ab".repeat(32),
        keyId: "k1",
        tenant: "acme",
        role: "runner" as const,
        createdAt: "t",
      };
      await store.putKey(key);
      await expect(store.putKey({ ...key, tenant: "globex" })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.getKey(key.keyHash)).toEqual(key);
      expect(await store.getKey("cd".repeat(32))).toBeUndefined();
    });

    it("lists a tenant's keys and deletes one by id, only within its tenant", async () => {
      const key = (hash: string, keyId: string, tenant = "acme") => ({
        keyHash: hash.repeat(64),
        keyId,
        tenant,
        role: "admin" as const,
        createdAt: "t",
      });
      await store.putKey(key("a", "k1"));
      await store.putKey(key("b", "k2"));
      await store.putKey(key("c", "k3", "globex"));
      expect((await store.listKeys("acme")).map((k) => k.keyId)).toEqual(["k1", "k2"]);
      expect(await store.deleteKey("globex", "k1")).toBe(false);
      expect(await store.deleteKey("acme", "k1")).toBe(true);
      expect(await store.getKey("a".repeat(64))).toBeUndefined();
      expect(await store.deleteKey("acme", "k1")).toBe(false);
      expect((await store.listKeys("acme")).map((k) => k.keyId)).toEqual(["k2"]);
    });

    it("sets a tenant's limits, replacing earlier ones, and none of a tenant that does not exist", async () => {
      await store.createTenant({ id: "acme", createdAt: "2026-01-01T00:00:00.000Z" });
      expect(await store.setLimits("acme", { maxChainDepth: 3, maxChainTree: 50 })).toBe(true);
      expect(await store.setLimits("acme", { maxChainTree: 20 })).toBe(true);
      expect(await store.getTenant("acme")).toEqual({
        id: "acme",
        createdAt: "2026-01-01T00:00:00.000Z",
        limits: { maxChainTree: 20 },
      });
      expect(await store.setLimits("globex", { maxChainDepth: 3 })).toBe(false);
      expect(await store.getTenant("globex")).toBeUndefined();
    });
  });
}
