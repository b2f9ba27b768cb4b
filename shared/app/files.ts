/** Reading task files: by the owning tenant, or by whoever holds a file token. */
import { ConflictError, NotFoundError, UnauthorizedError } from "../core/errors.ts";
import { runFileOf, verifyFileToken } from "../core/file-token.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";
import { findRun } from "./tasks.ts";

/** Download links live this long; the token or key that asked for one is checked each time. */
const LINK_SECONDS = 300;

export async function taskFileLink(
  svc: Services,
  caller: TenantPrincipal,
  taskId: string,
  name: string,
): Promise<string> {
  await findRun(svc, caller, taskId); // 404 for another tenant's task
  return linkTo(svc, `${caller.tenant}/${taskId}/${name}`, name);
}

/**
 * A token opens one file of one run of its own tenant, while that run exists and has not had its
 * file tokens revoked since the token was issued. Every refusal is the same 401: a token holder
 * learns nothing about the run.
 */
export async function tokenFileLink(svc: Services, token: string): Promise<string> {
  if (svc.fileTokenSecret === undefined) throw new UnauthorizedError("this deployment issues no file tokens");
  const grant = verifyFileToken(svc.fileTokenSecret, token, svc.clock.now());
  const file = runFileOf(grant.key);
  if (file === undefined || file.tenant !== grant.tenant) throw new UnauthorizedError("not a file token");
  const run = await svc.runs.get({ tenant: file.tenant, id: file.taskId });
  const revokedAt = run?.fileTokensRevokedAt === undefined ? undefined : Date.parse(run.fileTokensRevokedAt);
  if (run === undefined || (revokedAt !== undefined && grant.issuedAt <= revokedAt)) {
    throw new UnauthorizedError("the file token has been revoked");
  }
  return linkTo(svc, grant.key, file.name);
}

/** Revokes every file token issued so far for a run's files; tokens minted later work again. */
export async function revokeFileTokens(
  svc: Services,
  caller: TenantPrincipal,
  taskId: string,
): Promise<string> {
  for (let round = 0; round < 5; round += 1) {
    const run = await findRun(svc, caller, taskId); // 404 for another tenant's task
    const at = svc.clock.now().toISOString();
    // Only this field is written, so nothing read can be lost: guard on status alone.
    const updated = await svc.runs.update(
      run,
      { status: run.status, attempts: run.attempts },
      { fileTokensRevokedAt: at },
    );
    if (updated !== undefined) return at;
  }
  throw new ConflictError(`task "${taskId}" keeps changing; revoke its file tokens again`);
}

async function linkTo(svc: Services, key: string, name: string): Promise<string> {
  if ((await svc.files.size(key)) === undefined) throw new NotFoundError(`file "${name}" does not exist`);
  return svc.files.downloadUrl(key, name, LINK_SECONDS);
}
