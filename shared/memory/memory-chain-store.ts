import type { AccessGrant, ChainRecord, ChainStore } from "../core/ports.ts";
import { jsonCopy } from "./json-copy.ts";

/** Chain records (by tenant and name) and access grants (held by the target tenant), in memory. */
export class MemoryChainStore implements ChainStore {
  readonly #chains = new Map<string, ChainRecord>();
  readonly #grants = new Map<string, AccessGrant>();

  async putChain(chain: ChainRecord): Promise<{ created: boolean }> {
    const key = chainKey(chain.tenant, chain.name);
    const created = !this.#chains.has(key);
    this.#chains.set(key, jsonCopy(chain));
    return { created };
  }

  async getChain(tenant: string, name: string): Promise<ChainRecord | undefined> {
    const chain = this.#chains.get(chainKey(tenant, name));
    return chain === undefined ? undefined : jsonCopy(chain);
  }

  async deleteChain(tenant: string, name: string): Promise<boolean> {
    return this.#chains.delete(chainKey(tenant, name));
  }

  async listChains(tenant: string): Promise<ChainRecord[]> {
    return [...this.#chains.values()]
      .filter((chain) => chain.tenant === tenant)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map(jsonCopy);
  }

  async putGrant(grant: AccessGrant): Promise<{ created: boolean }> {
    const key = grantKey(grant.tenant, grant.sourceTenant, grant.chain);
    const created = !this.#grants.has(key);
    this.#grants.set(key, jsonCopy(grant));
    return { created };
  }

  async hasGrant(tenant: string, sourceTenant: string, chain: string): Promise<boolean> {
    return this.#grants.has(grantKey(tenant, sourceTenant, chain));
  }

  async deleteGrant(tenant: string, sourceTenant: string, chain: string): Promise<boolean> {
    return this.#grants.delete(grantKey(tenant, sourceTenant, chain));
  }

  /** By source tenant, then chain: the sort key order of the grants table. */
  async listGrants(tenant: string): Promise<AccessGrant[]> {
    const sortKey = (grant: AccessGrant) => `${grant.sourceTenant}#${grant.chain}`;
    return [...this.#grants.values()]
      .filter((grant) => grant.tenant === tenant)
      .sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1))
      .map(jsonCopy);
  }
}

/** Tenant ids and chain names cannot contain '#', so these keys are unambiguous. */
function chainKey(tenant: string, name: string): string {
  return `${tenant}#${name}`;
}

function grantKey(tenant: string, sourceTenant: string, chain: string): string {
  return `${tenant}#${sourceTenant}#${chain}`;
}
