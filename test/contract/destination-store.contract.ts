import { beforeEach, describe, expect, it } from "vitest";
import type { DestinationRecord } from "../../shared/core/destination.ts";
import { ConflictError } from "../../shared/core/errors.ts";
import type { DestinationStore } from "../../shared/core/ports.ts";

const destination = (
  name: string,
  tenant = "acme",
  updatedAt = "2026-01-01T00:00:00.000Z",
): DestinationRecord => ({
  tenant,
  name,
  url: "sftp://files.example.com/inbox",
  username: "baton",
  password: "baton:sealed:v1:x",
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt,
});

export function destinationStoreContract(name: string, makeStore: () => Promise<DestinationStore>): void {
  describe(`DestinationStore contract: ${name}`, () => {
    let store: DestinationStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it("creates once, replaces only the version it read, and keeps every field", async () => {
      await store.put(destination("d1"), undefined);
      await expect(store.put(destination("d1"), undefined)).rejects.toBeInstanceOf(ConflictError);
      const next = {
        ...destination("d1", "acme", "2026-01-02T00:00:00.000Z"),
        privateKey: "baton:sealed:v1:k",
      };
      await store.put(next, "2026-01-01T00:00:00.000Z");
      expect(await store.get("acme", "d1")).toEqual(next);
      // A writer that read the first version loses to the one that replaced it.
      await expect(store.put(destination("d1"), "2026-01-01T00:00:00.000Z")).rejects.toBeInstanceOf(
        ConflictError,
      );
      await expect(store.put(destination("d2"), "2026-01-01T00:00:00.000Z")).rejects.toBeInstanceOf(
        ConflictError,
      );
    });

    it("keeps tenants apart", async () => {
      await store.put(destination("d1", "globex"), undefined);
      expect(await store.get("acme", "d1")).toBeUndefined();
      expect(await store.list("acme")).toEqual([]);
      expect(await store.delete("acme", "d1")).toBe(false);
      expect(await store.get("globex", "d1")).toBeDefined();
    });

    it("deletes and says whether there was anything", async () => {
      await store.put(destination("d1"), undefined);
      expect(await store.delete("acme", "d1")).toBe(true);
      expect(await store.delete("acme", "d1")).toBe(false);
      expect(await store.get("acme", "d1")).toBeUndefined();
    });

    it("lists a tenant's destinations by name", async () => {
      for (const n of ["c", "a", "b"]) await store.put(destination(n), undefined);
      expect((await store.list("acme")).map((d) => d.name)).toEqual(["a", "b", "c"]);
    });
  });
}
