/** Who is calling, and the wrappers that let a handler run only for the role its route needs. */
import {
  authenticate,
  requireOperator,
  requireRole,
  type TenantPrincipal,
} from "../../../shared/app/identity.ts";
import type { Services } from "../../../shared/app/services.ts";
import type { Principal, Role } from "../../../shared/core/tenant.ts";
import type { ApiEvent, ApiResult } from "../http.ts";
import type { Handler } from "./route.ts";

export interface RouteAuthz {
  /** The principal of the request's API key (401 without a valid one). */
  caller(event: ApiEvent): Promise<Principal>;
  /** A handler for a key of a tenant with at least `role` (403 for other keys). */
  asTenant(role: Role, fn: (event: ApiEvent, principal: TenantPrincipal) => Promise<ApiResult>): Handler;
  /** A handler for the operator key only. */
  asOperator(fn: (event: ApiEvent) => Promise<ApiResult>): Handler;
}

export function routeAuthz(svc: Services): RouteAuthz {
  const caller = (event: ApiEvent): Promise<Principal> => authenticate(svc, event.headers.authorization);
  return {
    caller,
    asTenant: (role, fn) => async (event) => fn(event, requireRole(await caller(event), role)),
    asOperator: (fn) => async (event) => {
      requireOperator(await caller(event));
      return fn(event);
    },
  };
}
