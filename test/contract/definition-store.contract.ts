import { beforeEach, describe, expect, it } from "vitest";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import type { DefinitionStore } from "../../shared/core/ports.ts";

const definition = (name: string, tenant = "acme"): TaskDefinition => ({
  tenant,
  name,
  handler: "echo",
  params: { a: 1 },
  maxAttempts: 3,
  timeoutSeconds: 60,
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:00.000Z",
});

export function definitionStoreContract(name: string, makeStore: () => Promise<DefinitionStore>): void {
  describe(`DefinitionStore contract: ${name}`, () => {
    let store: DefinitionStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it("creates, then replaces, and tells which", async () => {
      expect(await store.put(definition("d1"))).toEqual({ created: true });
      expect(await store.put({ ...definition("d1"), handler: "sleep" })).toEqual({ created: false });
      expect((await store.get("acme", "d1"))?.handler).toBe("sleep");
    });

    it("keeps any JSON as default params", async () => {
      const params = { "": 1, huge: 1e300, nested: { a: [{ b: null }] } };
      await store.put({ ...definition("d1"), params });
      expect((await store.get("acme", "d1"))?.params).toEqual(params);
    });

    it("stops a page before maxBytes of JSON, with a cursor that resumes after the last one kept", async () => {
      const big = (n: string) => ({ ...definition(n), params: { blob: "x".repeat(1_000) } });
      for (const n of ["d1", "d2", "d3", "d4", "d5"]) await store.put(big(n));
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list("acme", { limit: 10, maxBytes: 2_600, ...(cursor ? { cursor } : {}) });
        pages.push(page.items.map((d) => d.name));
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(pages).toEqual([["d1", "d2"], ["d3", "d4"], ["d5"]]);
      // One definition larger than the budget still gets a page of its own.
      const single = await store.list("acme", { limit: 10, maxBytes: 10 });
      expect(single.items.map((d) => d.name)).toEqual(["d1"]);
      expect(single.cursor).toBeDefined();
    });

    it("keeps tenants apart", async () => {
      await store.put(definition("d1", "globex"));
      expect(await store.get("acme", "d1")).toBeUndefined();
      expect((await store.list("acme", { limit: 10 })).items).toEqual([]);
    });

    it("deletes and says whether there was anything", async () => {
      await store.put(definition("d1"));
      expect(await store.delete("acme", "d1")).toBe(true);
      expect(await store.delete("acme", "d1")).toBe(false);
      expect(await store.get("acme", "d1")).toBeUndefined();
    });

    it("lists by name, page by page", async () => {
      for (const n of ["c", "a", "b"]) await store.put(definition(n));
      const first = await store.list("acme", { limit: 2 });
      expect(first.items.map((d) => d.name)).toEqual(["a", "b"]);
      const second = await store.list("acme", {
        limit: 2,
        ...(first.cursor ? { cursor: first.cursor } : {}),
      });
      expect(second.items.map((d) => d.name)).toEqual(["c"]);
    });
  });
}
