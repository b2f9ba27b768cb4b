/**
 * A tenant's limits as admission reads them: live, through a short cache in each process, so a
 * start does not pay a read of the tenant record every time. A change by the operator applies at
 * once in the process that made it and within TENANT_LIMITS_CACHE_MS everywhere else (other
 * Lambda instances, the worker); the sweeper settles anything a stale read left waiting.
 */
import type { TenantLimits } from "../core/tenant.ts";
import type { Services } from "./services.ts";

export const TENANT_LIMITS_CACHE_MS = 5_000;

interface Cached {
  limits: TenantLimits;
  until: number;
}

/** One cache per composition root (Services), so tests with their own services never share one. */
const caches = new WeakMap<Services, Map<string, Cached>>();

/** The tenant's limits, at most TENANT_LIMITS_CACHE_MS old; none for a tenant that does not exist. */
export async function tenantLimitsOf(svc: Services, tenant: string): Promise<TenantLimits> {
  let cache = caches.get(svc);
  if (cache === undefined) {
    cache = new Map();
    caches.set(svc, cache);
  }
  const now = svc.clock.now().getTime();
  const cached = cache.get(tenant);
  if (cached !== undefined && cached.until > now) return cached.limits;
  const limits = (await svc.tenants.getTenant(tenant))?.limits ?? {};
  cache.set(tenant, { limits, until: now + TENANT_LIMITS_CACHE_MS });
  return limits;
}

/** Forgets the cached limits of a tenant (its limits were just set in this process). */
export function forgetTenantLimits(svc: Services, tenant: string): void {
  caches.get(svc)?.delete(tenant);
}
