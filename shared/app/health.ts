/**
 * GET /health: whether the API's dependencies answer now. Each is probed with one cheap read, all
 * at once, each given at most `timeoutMs`. An answer is shared by every request that comes while
 * it is being found and for `cacheMs` after, so however often the public route is called, one API
 * instance makes at most one round of probes per `cacheMs`: the route cannot be used to multiply
 * load on the database.
 */
import { DEPENDENCIES, type Dependency } from "../core/ports.ts";
import type { Services } from "./services.ts";

export type DependencyState = "ok" | "unreachable";

export interface HealthReport {
  healthy: boolean;
  dependencies: Record<Dependency, DependencyState>;
}

export interface HealthCheckOptions {
  /** How long one probe may take before its dependency counts as unreachable. */
  timeoutMs: number;
  /** How long an answer is reused after it was found. */
  cacheMs: number;
}

/** Short enough for a load balancer's health check (they wait 5 s and more); long for a read. */
export const HEALTH_CHECK_DEFAULTS: HealthCheckOptions = { timeoutMs: 2_000, cacheMs: 2_000 };

export type HealthCheck = () => Promise<HealthReport>;

export function healthCheck(
  svc: Pick<Services, "dependencies" | "clock" | "log">,
  options: HealthCheckOptions = HEALTH_CHECK_DEFAULTS,
): HealthCheck {
  let current: Promise<HealthReport> | undefined;
  let probing = false;
  let freshUntil = 0;
  return () => {
    if (current !== undefined && (probing || svc.clock.now().getTime() < freshUntil)) return current;
    probing = true;
    current = probeAll(svc, options.timeoutMs).finally(() => {
      probing = false;
      freshUntil = svc.clock.now().getTime() + options.cacheMs;
    });
    return current;
  };
}

async function probeAll(
  svc: Pick<Services, "dependencies" | "log">,
  timeoutMs: number,
): Promise<HealthReport> {
  const states = await Promise.all(DEPENDENCIES.map((dependency) => probeOne(svc, dependency, timeoutMs)));
  const dependencies = Object.fromEntries(
    DEPENDENCIES.map((dependency, i) => [dependency, states[i]]),
  ) as HealthReport["dependencies"];
  return { healthy: states.every((state) => state === "ok"), dependencies };
}

/** Never throws: whatever goes wrong is "unreachable", and the reason goes to the log only. */
async function probeOne(
  svc: Pick<Services, "dependencies" | "log">,
  dependency: Dependency,
  timeoutMs: number,
): Promise<DependencyState> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // Also a deadline of its own: a probe that ignores its signal still cannot hold the answer.
  const deadline = new Promise<DependencyState>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error(`no answer within ${timeoutMs} ms`));
      resolve("unreachable");
    }, timeoutMs);
  });
  const answer = svc.dependencies[dependency](controller.signal).then(
    (): DependencyState => "ok",
    (error: unknown): DependencyState => {
      svc.log.warn("a dependency failed its health probe", { dependency, error });
      return "unreachable";
    },
  );
  try {
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
