/** Reading task files: by the owning tenant, or by whoever holds a file token. */
import { NotFoundError, UnauthorizedError } from "../core/errors.ts";
import { verifyFileToken } from "../core/file-token.ts";
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

export async function tokenFileLink(svc: Services, token: string): Promise<string> {
  if (svc.fileTokenSecret === undefined) throw new UnauthorizedError("this deployment issues no file tokens");
  const file = verifyFileToken(svc.fileTokenSecret, token, svc.clock.now());
  // A token names one key, and only keys under its own tenant.
  if (!file.key.startsWith(`${file.tenant}/`)) throw new UnauthorizedError("not a file token");
  return linkTo(svc, file.key, file.key.slice(file.key.lastIndexOf("/") + 1));
}

async function linkTo(svc: Services, key: string, name: string): Promise<string> {
  if ((await svc.files.size(key)) === undefined) throw new NotFoundError(`file "${name}" does not exist`);
  return svc.files.downloadUrl(key, name, LINK_SECONDS);
}
