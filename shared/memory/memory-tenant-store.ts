import { ConflictError } from "../core/errors.ts";
import type { TenantStore } from "../core/ports.ts";
import { ApiKeyRecord, Tenant, type TenantLimits } from "../core/tenant.ts";
import { jsonCopy } from "./json-copy.ts";

/** Tenants (by id) and their API keys (by key hash), in memory. */
export class MemoryTenantStore implements TenantStore {
  readonly #tenants = new Map<string, Tenant>();
  readonly #keys = new Map<string, ApiKeyRecord>();

  async createTenant(tenant: Tenant): Promise<void> {
    if (this.#tenants.has(tenant.id)) throw new ConflictError(`tenant "${tenant.id}" already exists`);
    this.#tenants.set(tenant.id, jsonCopy(tenant));
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const tenant = this.#tenants.get(id);
    return tenant === undefined ? undefined : Tenant.parse(jsonCopy(tenant));
  }

  async setLimits(id: string, limits: TenantLimits): Promise<boolean> {
    const tenant = this.#tenants.get(id);
    if (tenant === undefined) return false;
    this.#tenants.set(id, { ...tenant, limits: jsonCopy(limits) });
    return true;
  }

  async putKey(key: ApiKeyRecord): Promise<void> {
    if (this.#keys.has(key.keyHash)) throw new ConflictError("that key already exists");
    this.#keys.set(key.keyHash, jsonCopy(key));
  }

  async getKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const key = this.#keys.get(keyHash);
    return key === undefined ? undefined : ApiKeyRecord.parse(jsonCopy(key));
  }

  /** By key id: the sort key of the keys table's byTenant index. */
  async listKeys(tenant: string): Promise<ApiKeyRecord[]> {
    return [...this.#keys.values()]
      .filter((key) => key.tenant === tenant)
      .sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0))
      .map((key) => ApiKeyRecord.parse(jsonCopy(key)));
  }

  async deleteKey(tenant: string, keyId: string): Promise<boolean> {
    let deleted = false;
    for (const [hash, key] of this.#keys) {
      if (key.tenant !== tenant || key.keyId !== keyId) continue;
      this.#keys.delete(hash);
      deleted = true;
    }
    return deleted;
  }
}
