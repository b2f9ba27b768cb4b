/**
 * Read tokens: what a frontend holds to read one run (and, later, its live events) without an
 * API key. `rt.<payload>.<signature>`, the payload base64url JSON `{t: tenant, r: run id, e:
 * expiry (epoch s)}`, signed with HMAC-SHA256 under the deployment's token secret with a prefix
 * of its own, so no file token is ever a read token or the other way round.
 */
import { z } from "zod";
import { UnauthorizedError, ValidationError } from "./errors.ts";
import { expirySeconds, sign, signatureMatches } from "./file-token.ts";

export const READ_TOKEN_PREFIX = "rt.";
const SIGNING_DOMAIN = "read-token:";
export const READ_TOKEN_DEFAULT_SECONDS = 15 * 60;
export const READ_TOKEN_MAX_SECONDS = 24 * 60 * 60;

const Payload = z.strictObject({ t: z.string(), r: z.string(), e: z.number().int() });

/** What a read token grants: one run of one tenant, until `expiresAt`. */
export interface ReadGrant {
  tenant: string;
  taskId: string;
  expiresAt: Date;
}

export function isReadToken(bearer: string): boolean {
  return bearer.startsWith(READ_TOKEN_PREFIX);
}

export function mintReadToken(
  secret: string,
  run: { tenant: string; taskId: string },
  now: Date,
  seconds = READ_TOKEN_DEFAULT_SECONDS,
): { token: string; expiresAt: Date } {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > READ_TOKEN_MAX_SECONDS) {
    throw new ValidationError(
      `a read token lasts 1 s to ${READ_TOKEN_MAX_SECONDS} s (24 hours), not ${seconds}`,
    );
  }
  const expires = expirySeconds(now, seconds);
  const payload = Buffer.from(JSON.stringify({ t: run.tenant, r: run.taskId, e: expires })).toString(
    "base64url",
  );
  return {
    token: `${READ_TOKEN_PREFIX}${payload}.${sign(secret, payload, SIGNING_DOMAIN)}`,
    expiresAt: new Date(expires * 1000),
  };
}

/** The run a token grants, or UnauthorizedError for one that is malformed, tampered with or expired. */
export function verifyReadToken(secret: string, token: string, now: Date): ReadGrant {
  const [payload, signature, extra] = token.slice(READ_TOKEN_PREFIX.length).split(".");
  if (!isReadToken(token) || payload === undefined || signature === undefined || extra !== undefined) {
    throw new UnauthorizedError("not a read token");
  }
  if (!signatureMatches(secret, payload, signature, SIGNING_DOMAIN)) {
    throw new UnauthorizedError("the read token's signature does not match");
  }
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw new UnauthorizedError("not a read token");
  }
  const parsed = Payload.safeParse(decoded);
  if (!parsed.success) throw new UnauthorizedError("not a read token");
  if (parsed.data.e * 1000 <= now.getTime()) throw new UnauthorizedError("the read token has expired");
  return { tenant: parsed.data.t, taskId: parsed.data.r, expiresAt: new Date(parsed.data.e * 1000) };
}
