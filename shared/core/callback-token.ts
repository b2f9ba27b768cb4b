import { randomBytes } from "node:crypto";
import { hashKey } from "./tenant.ts";

/**
 * Callback tokens: 256 random bits, with the tenant in the clear so the callback can find the run
 * (`bcb.<tenant>.<random>`; tenant ids have no '.'). Only the SHA-256 is stored, on the run; it is
 * removed when a final callback is accepted, so a token works until its run ends and never after.
 */
export function newCallbackToken(tenant: string): { token: string; hash: string } {
  const token = `bcb.${tenant}.${randomBytes(32).toString("base64url")}`;
  return { token, hash: hashKey(token) };
}

/** The tenant a callback token claims to belong to, or undefined if it is not one. */
export function tenantOfCallbackToken(token: string): string | undefined {
  const match = /^bcb\.([a-z0-9][a-z0-9-]{0,62})\.[A-Za-z0-9_-]{43}$/.exec(token);
  return match?.[1];
}
