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
  });
}
