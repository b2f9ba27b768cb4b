/**
 * Read tokens (shared/core/read-token.ts) over the API: a runner key issues one for a run of its
 * tenant; whoever holds it reads that run and nothing else (any other run is simply not found,
 * and no other route takes it: it is not an API key).
 */
import { NotFoundError, UnauthorizedError } from "../core/errors.ts";
import { mintReadToken, verifyReadToken } from "../core/read-token.ts";
import type { Run } from "../core/run.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";
import { findRun, getTask } from "./tasks.ts";

function secretOf(svc: Services): string {
  if (svc.fileTokenSecret === undefined) throw new UnauthorizedError("this deployment issues no tokens");
  return svc.fileTokenSecret;
}

export async function issueReadToken(
  svc: Services,
  caller: TenantPrincipal,
  id: string,
  seconds?: number,
): Promise<{ token: string; expiresAt: Date }> {
  const run = await findRun(svc, caller, id);
  return mintReadToken(secretOf(svc), { tenant: run.tenant, taskId: run.id }, svc.clock.now(), seconds);
}

/** The run a read token names, if it is the one asked for (else 404: the token says nothing of others). */
export async function getTaskWithReadToken(svc: Services, token: string, id: string): Promise<Run> {
  const grant = verifyReadToken(secretOf(svc), token, svc.clock.now());
  if (grant.taskId !== id) throw new NotFoundError(`task "${id}" does not exist`);
  const reader: TenantPrincipal = {
    kind: "tenant",
    tenant: grant.tenant,
    role: "runner",
    keyId: "read-token",
  };
  return getTask(svc, reader, id);
}
