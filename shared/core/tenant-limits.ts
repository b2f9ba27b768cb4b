/**
 * The limits in force for a tenant: what the operator set, and the defaults for the rest. One
 * place, so GET /v1/tenants/{id}/limits shows exactly what chain emission and starts apply.
 */
import { CHAIN_TREE_LIMITS } from "./limits.ts";
import { startRateOf } from "./start-rate.ts";
import type { TenantLimits } from "./tenant.ts";

export interface TenantLimitsInForce {
  maxChainDepth: number;
  maxChainTree: number;
  /** null: no cap on the tenant's runs holding a slot (each definition's own limit still holds). */
  maxConcurrency: number | null;
  /** null: the tenant-wide waiting line is unbounded. */
  maxWaiting: number | null;
  /** null: no start rate limit. */
  startsPerSecond: number | null;
  burst: number | null;
}

export function tenantLimitsInForce(limits: TenantLimits | undefined): TenantLimitsInForce {
  const rate = startRateOf(limits);
  return {
    maxChainDepth: Math.min(
      limits?.maxChainDepth ?? CHAIN_TREE_LIMITS.maxDepth,
      CHAIN_TREE_LIMITS.maxDepthCeiling,
    ),
    maxChainTree: Math.min(
      limits?.maxChainTree ?? CHAIN_TREE_LIMITS.maxRuns,
      CHAIN_TREE_LIMITS.maxRunsCeiling,
    ),
    maxConcurrency: limits?.maxConcurrency ?? null,
    maxWaiting: limits?.maxWaiting ?? null,
    startsPerSecond: rate?.startsPerSecond ?? null,
    burst: rate?.burst ?? null,
  };
}
