/** Tenants, API keys and who is calling. */
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  ValidationError,
} from "../core/errors.ts";
import type { Run } from "../core/run.ts";
import {
  type ApiKeyRecord,
  hashKey,
  keyIdOf,
  MIN_KEY_LENGTH,
  newApiKey,
  type Principal,
  type Role,
  sameHash,
  type Tenant,
  type TenantLimits,
} from "../core/tenant.ts";
import { type TenantLimitsInForce, tenantLimitsInForce } from "../core/tenant-limits.ts";
import { promoteTenantLine } from "./admission.ts";
import { addLogContext } from "./log-context.ts";
import type { Services } from "./services.ts";
import { forgetTenantLimits } from "./tenant-limits.ts";

export type TenantPrincipal = Extract<Principal, { kind: "tenant" }>;

/**
 * The caller that acts for a run (its workflow steps, its handler's starts): its own tenant, as
 * the key that started it, with a runner's rights, so what the run may start the key could too.
 */
export function runCaller(run: Pick<Run, "tenant" | "createdBy">): TenantPrincipal {
  return { kind: "tenant", tenant: run.tenant, role: "runner", keyId: run.createdBy };
}

/** The credential of an `Authorization: Bearer <credential>` header. */
export function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
}

/** Resolves an `Authorization` header to the caller; 401 for anything missing or unknown. */
export async function authenticate(svc: Services, authorization: string | undefined): Promise<Principal> {
  const key = bearerOf(authorization);
  if (key === undefined) throw new UnauthorizedError("send an API key as 'Authorization: Bearer <key>'");
  const keyHash = hashKey(key);
  if (svc.rootKeyHash !== undefined && sameHash(keyHash, svc.rootKeyHash)) return { kind: "operator" };
  const record = await svc.tenants.getKey(keyHash);
  if (record === undefined) throw new UnauthorizedError("unknown API key");
  addLogContext({ tenant: record.tenant, keyId: record.keyId });
  return { kind: "tenant", tenant: record.tenant, role: record.role, keyId: record.keyId };
}

/** Admins can do everything runners can. */
export function requireRole(principal: Principal, role: Role): TenantPrincipal {
  if (principal.kind !== "tenant") {
    throw new ForbiddenError("the operator key manages tenants only; use a tenant key for this route");
  }
  if (role === "admin" && principal.role !== "admin")
    throw new ForbiddenError("this route needs an admin key");
  return principal;
}

export function requireOperator(principal: Principal): void {
  if (principal.kind !== "operator")
    throw new ForbiddenError("this route needs the operator key (BATON_ROOT_KEY)");
}

export async function createTenant(svc: Services, input: { id: string; name?: string }): Promise<Tenant> {
  const tenant: Tenant = {
    id: input.id,
    ...(input.name === undefined ? {} : { name: input.name }),
    createdAt: svc.clock.now().toISOString(),
  };
  await svc.tenants.createTenant(tenant);
  return tenant;
}

/**
 * The operator sets a tenant's own limits. Replace, not merge: the limits sent are all the tenant
 * has afterwards, a field left out goes back to its default, and `{}` clears them all (which also
 * lifts the start rate).
 */
export async function setTenantLimits(svc: Services, id: string, limits: TenantLimits): Promise<Tenant> {
  if (limits.maxWaiting !== undefined && limits.maxConcurrency === undefined) {
    throw new ValidationError(
      "maxWaiting needs maxConcurrency: without a tenant cap no run waits in the tenant's line, so there is no line to limit",
    );
  }
  if (!(await svc.tenants.setLimits(id, limits))) throw new NotFoundError(`tenant "${id}" does not exist`);
  forgetTenantLimits(svc, id);
  const tenant = await svc.tenants.getTenant(id);
  if (tenant === undefined) throw new NotFoundError(`tenant "${id}" does not exist`);
  // A raised or lifted cap lets waiting runs in at once (a lowered one lets running runs finish).
  await promoteTenantLine(svc, id);
  return tenant;
}

/** The limits in force for a tenant: those the operator set, the defaults for the rest. */
export async function getTenantLimits(svc: Services, id: string): Promise<TenantLimitsInForce> {
  const tenant = await svc.tenants.getTenant(id);
  if (tenant === undefined) throw new NotFoundError(`tenant "${id}" does not exist`);
  return tenantLimitsInForce(tenant.limits);
}

export interface IssuedKey {
  tenant: string;
  keyId: string;
  role: Role;
  /** Shown once; only its hash is stored. */
  key: string;
  createdAt: string;
}

/** Issues a new key for an existing tenant. `key` lets an operator choose it (BATON_DEV_KEY). */
export async function issueKey(
  svc: Services,
  input: { tenant: string; role: Role; key?: string },
): Promise<IssuedKey> {
  if ((await svc.tenants.getTenant(input.tenant)) === undefined) {
    throw new NotFoundError(`tenant "${input.tenant}" does not exist`);
  }
  let key: string;
  let keyId: string;
  if (input.key === undefined) {
    ({ key, keyId } = newApiKey());
  } else {
    if (input.key.length < MIN_KEY_LENGTH || /\s/.test(input.key)) {
      throw new ValidationError(`a chosen key needs at least ${MIN_KEY_LENGTH} characters and no spaces`);
    }
    key = input.key;
    keyId = keyIdOf(key);
  }
  const record: ApiKeyRecord = {
    keyHash: hashKey(key),
    keyId,
    tenant: input.tenant,
    role: input.role,
    createdAt: svc.clock.now().toISOString(),
  };
  await svc.tenants.putKey(record);
  return { tenant: record.tenant, keyId, role: record.role, key, createdAt: record.createdAt };
}

/**
 * Makes sure a tenant exists and `key` is one of its keys with `role` (used by `npm run dev`).
 * Safe to run on every start: existing tenant and key are kept.
 */
export async function ensureTenantKey(
  svc: Services,
  input: { tenant: string; role: Role; key: string },
): Promise<void> {
  if ((await svc.tenants.getTenant(input.tenant)) === undefined) {
    await createTenant(svc, { id: input.tenant }).catch((error: unknown) => {
      if (!(error instanceof ConflictError)) throw error;
    });
  }
  const existing = await svc.tenants.getKey(hashKey(input.key));
  if (existing === undefined) {
    await issueKey(svc, input);
  } else if (existing.tenant !== input.tenant || existing.role !== input.role) {
    throw new ConflictError(`that key already belongs to tenant "${existing.tenant}" as ${existing.role}`);
  }
}

export interface KeyView {
  keyId: string;
  role: Role;
  createdAt: string;
}

export async function listKeys(svc: Services, tenant: string): Promise<KeyView[]> {
  const keys = await svc.tenants.listKeys(tenant);
  return keys.map(({ keyId, role, createdAt }) => ({ keyId, role, createdAt }));
}

/** The operator's view of a tenant's keys: 404 for a tenant that does not exist. */
export async function listTenantKeys(svc: Services, tenant: string): Promise<KeyView[]> {
  if ((await svc.tenants.getTenant(tenant)) === undefined) {
    throw new NotFoundError(`tenant "${tenant}" does not exist`);
  }
  return listKeys(svc, tenant);
}

/**
 * Revokes a key. Authentication reads keys with a strongly consistent read and caches nothing,
 * so the next request with a revoked key gets 401.
 */
export async function revokeKey(svc: Services, tenant: string, keyId: string): Promise<void> {
  if (!(await svc.tenants.deleteKey(tenant, keyId))) throw new NotFoundError(`key "${keyId}" does not exist`);
}
