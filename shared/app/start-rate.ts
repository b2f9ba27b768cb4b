/**
 * The tenant's start rate (`startsPerSecond`, `burst`), applied to every start the engine makes
 * for it: API starts, `ctx.tasks.start`, chain hops and cron firings. Read with the tenant's
 * other limits through tenant-limits.ts: an operator's change applies to the next start in the
 * process that made it, and within its few seconds of caching everywhere else.
 */
import { RateLimitedError } from "../core/errors.ts";
import { startRateOf } from "../core/start-rate.ts";
import type { Services } from "./services.ts";
import { tenantLimitsOf } from "./tenant-limits.ts";

/**
 * Takes one start from the tenant's bucket; the refusal when there is none left (nothing was
 * taken then). A tenant without a start rate costs no write, and a read of the tenant only when
 * the cached one is older than TENANT_LIMITS_CACHE_MS.
 */
export async function takeStartToken(
  svc: Services,
  tenant: string,
  now: Date,
): Promise<RateLimitedError | undefined> {
  // The same short-lived read of the tenant as admission: no extra read of it per start.
  const rate = startRateOf(await tenantLimitsOf(svc, tenant));
  if (rate === undefined) return undefined;
  const decision = await svc.startRates.take(tenant, rate, now);
  if (decision.admitted) return undefined;
  return new RateLimitedError(
    `tenant "${tenant}" may start ${rate.startsPerSecond} runs per second (burst ${rate.burst}); try again in ${decision.retryAfterSeconds} s`,
    {
      retryAfterSeconds: decision.retryAfterSeconds,
      details: { startsPerSecond: rate.startsPerSecond, burst: rate.burst },
    },
  );
}
