import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { LIMITS } from "./limits.ts";
import { StartRateFields } from "./start-rate.ts";

export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const TenantId = z
  .string()
  .regex(TENANT_ID_PATTERN, "must be 1-63 lowercase letters, digits or '-', starting with a letter or digit");

export const Role = z.enum(["admin", "runner"]);
export type Role = z.infer<typeof Role>;

/**
 * A tenant's own limits, set by the operator; unset ones are the defaults (tenantLimitsInForce).
 * - Chain trees (defaults and ceilings: CHAIN_TREE_LIMITS): they apply to trees the tenant
 *   started; a tree is held to its root tenant's limits.
 * - Admission (docs/admission.md "Tenant caps"): at most `maxConcurrency` of the tenant's runs hold
 *   a slot (queued or running) at once, across all its definitions and on top of each one's own
 *   limit; the rest wait in a tenant-wide line, which a start may not grow past `maxWaiting`.
 *   Unlimited when absent.
 * - The start rate: startsPerSecond and burst (shared/core/start-rate.ts).
 */
export const TenantLimits = z
  .strictObject({
    maxChainDepth: z.number().int().min(1).max(16).optional(),
    maxChainTree: z.number().int().min(2).max(10_000).optional(),
    // Admission caps.
    maxConcurrency: z.number().int().min(1).max(LIMITS.maxConcurrency).optional(),
    maxWaiting: z.number().int().min(0).max(LIMITS.maxQueueLength).optional(),
    ...StartRateFields,
  })
  .refine((limits) => limits.burst === undefined || limits.startsPerSecond !== undefined, {
    message: "burst needs startsPerSecond",
    path: ["burst"],
  });
export type TenantLimits = z.infer<typeof TenantLimits>;

export const Tenant = z.object({
  id: z.string(),
  name: z.string().optional(),
  createdAt: z.string(),
  limits: TenantLimits.optional(),
});
export type Tenant = z.infer<typeof Tenant>;

/** What is stored for an API key: never the key itself, only its SHA-256. */
export const ApiKeyRecord = z.object({
  keyHash: z.string(),
  keyId: z.string(),
  tenant: z.string(),
  role: Role,
  createdAt: z.string(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecord>;

export type Principal = { kind: "operator" } | { kind: "tenant"; tenant: string; role: Role; keyId: string };

/** Keys given by a person (BATON_DEV_KEY, BATON_ROOT_KEY) must still be hard to guess. */
export const MIN_KEY_LENGTH = 24;

/**
 * Keys carry 256 random bits, so a plain SHA-256 is enough to store them: a slow password hash
 * protects low-entropy secrets, and would cost every API request tens of milliseconds.
 */
export function hashKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export function newApiKey(): { keyId: string; key: string } {
  const keyId = randomBytes(6).toString("hex");
  return { keyId, key: `bk_${keyId}_${randomBytes(32).toString("base64url")}` };
}

/** The key id of a key in Baton's format; other keys (set by hand) get one derived from the hash. */
export function keyIdOf(key: string): string {
  const match = /^bk_([0-9a-f]{12})_/.exec(key);
  return match?.[1] ?? hashKey(key).slice(0, 12);
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === right.length && timingSafeEqual(left, right);
}
