/**
 * File tokens: `<payload>.<signature>`, the payload base64url JSON `{t: tenant, k: key, e: expiry
 * (epoch s), i: issued (epoch ms)}`, signed with HMAC-SHA256. Whoever holds one may read that one
 * file until it expires or its run's tokens are revoked (files.ts checks `i` against the run).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { UnauthorizedError, ValidationError } from "./errors.ts";

export const FILE_TOKEN_DEFAULT_SECONDS = 60 * 60;
export const FILE_TOKEN_MAX_SECONDS = 7 * 24 * 60 * 60;

// `i` is absent from tokens minted before revocation existed: they count as issued at 0.
const Payload = z.object({
  t: z.string(),
  k: z.string(),
  e: z.number().int(),
  i: z.number().int().optional(),
});

/** What a token grants: one file of one tenant, and when it was issued. */
export interface FileGrant {
  tenant: string;
  key: string;
  issuedAt: number;
}

export function mintFileToken(
  secret: string,
  file: { tenant: string; key: string },
  now: Date,
  seconds = FILE_TOKEN_DEFAULT_SECONDS,
): string {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > FILE_TOKEN_MAX_SECONDS) {
    throw new ValidationError(
      `a file token lasts 1 s to ${FILE_TOKEN_MAX_SECONDS} s (7 days), not ${seconds}`,
    );
  }
  const payload = Buffer.from(
    JSON.stringify({
      t: file.tenant,
      k: file.key,
      e: expirySeconds(now, seconds),
      i: now.getTime(),
    }),
  ).toString("base64url");
  return `${payload}.${sign(secret, payload)}`;
}

/** The file a token grants, or UnauthorizedError for a token that is tampered with or expired. */
export function verifyFileToken(secret: string, token: string, now: Date): FileGrant {
  const [payload, signature, extra] = token.split(".");
  if (payload === undefined || signature === undefined || extra !== undefined) {
    throw new UnauthorizedError("not a file token");
  }
  if (!signatureMatches(secret, payload, signature)) {
    throw new UnauthorizedError("the file token's signature does not match");
  }
  const parsed = Payload.safeParse(JSON.parse(Buffer.from(payload, "base64url").toString("utf8")));
  if (!parsed.success) throw new UnauthorizedError("not a file token");
  if (parsed.data.e * 1000 <= now.getTime()) throw new UnauthorizedError("the file token has expired");
  return { tenant: parsed.data.t, key: parsed.data.k, issuedAt: parsed.data.i ?? 0 };
}

/** The parts of a run file's key, `<tenant>/<taskId>/<name>`; undefined for any other key. */
export function runFileOf(key: string): { tenant: string; taskId: string; name: string } | undefined {
  const parts = key.split("/");
  if (parts.length !== 3 || parts.some((part) => part === "" || part === "." || part === "..")) {
    return undefined;
  }
  const [tenant, taskId, name] = parts as [string, string, string];
  return { tenant, taskId, name };
}

/**
 * The HMAC-SHA256 of a token's payload. `domain` keeps kinds of token apart under one secret (a
 * read token signs `read-token:<payload>`); file tokens have none, as they always had.
 */
export function sign(secret: string, payload: string, domain = ""): string {
  return createHmac("sha256", secret).update(`${domain}${payload}`).digest("base64url");
}

/**
 * A token's expiry in epoch seconds, rounded up to a whole second: a token lasts at least the
 * `seconds` it was asked for, whatever the millisecond it is minted at.
 */
export function expirySeconds(now: Date, seconds: number): number {
  return Math.ceil((now.getTime() + seconds * 1000) / 1000);
}

/** Compares in constant time. */
export function signatureMatches(secret: string, payload: string, signature: string, domain = ""): boolean {
  const expected = Buffer.from(sign(secret, payload, domain));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
