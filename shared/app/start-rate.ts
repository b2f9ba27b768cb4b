/**
 * The tenant's start rate (`startsPerSecond`, `burst`), applied to every start the engine makes
 * for it: API starts, `ctx.tasks.start`, chain hops and cron firings. Read live from the tenant
 * at each start, as definition limits are, so an operator's change applies to the next start.
 */
import { RateLimitedError } from "../core/errors.ts";
import { startRateOf } from "../core/start-rate.ts";
import type { Services } from "./services.ts";

/**
 * Takes one start from the tenant's bucket; the refusal when there is none left (nothing was
 * taken then). A tenant without a start rate costs one read of the tenant and no write.
 */
export async function takeStartToken(
  svc: Services,
  tenant: string,
  now: Date,
): Promise<RateLimitedError | undefined> {
  const rate = startRateOf((await svc.tenants.getTenant(tenant))?.limits);
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
