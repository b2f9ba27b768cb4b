/**
 * The secrets Baton hands out: API keys (tenant.ts), callback tokens and file tokens. Their exact
 * formats, and that a changed, expired or foreign one is refused.
 */
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { newCallbackToken, tenantOfCallbackToken } from "../../shared/core/callback-token.ts";
import { UnauthorizedError, ValidationError } from "../../shared/core/errors.ts";
import {
  FILE_TOKEN_DEFAULT_SECONDS,
  FILE_TOKEN_MAX_SECONDS,
  mintFileToken,
  verifyFileToken,
} from "../../shared/core/file-token.ts";
import {
  ApiKeyRecord,
  hashKey,
  keyIdOf,
  MIN_KEY_LENGTH,
  newApiKey,
  Role,
  sameHash,
  TENANT_ID_PATTERN,
  Tenant,
  TenantId,
} from "../../shared/core/tenant.ts";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("tenant ids", () => {
  it.each(["a", "acme", "0-team", "a".repeat(63)])("accept %s", (id) => {
    expect(TENANT_ID_PATTERN.test(id)).toBe(true);
    expect(TenantId.parse(id)).toBe(id);
  });

  it.each(["", "-acme", "Acme", "a_b", "a.b", "a".repeat(64), "acme\n"])("refuse %j", (id) => {
    expect(TENANT_ID_PATTERN.test(id)).toBe(false);
    const result = TenantId.safeParse(id);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      "must be 1-63 lowercase letters, digits or '-', starting with a letter or digit",
    );
  });
});

describe("tenant and key records", () => {
  it("have these roles and shapes", () => {
    expect(Role.options).toStrictEqual(["admin", "runner"]);
    expect(Role.safeParse("owner").success).toBe(false);
    const tenant = { id: "acme", name: "Acme", createdAt: "t" };
    expect(Tenant.parse(tenant)).toStrictEqual(tenant);
    const record = { keyHash: "h", keyId: "i", tenant: "acme", role: "runner", createdAt: "t" };
    expect(ApiKeyRecord.parse(record)).toStrictEqual(record);
    expect(ApiKeyRecord.safeParse({ ...record, role: "root" }).success).toBe(false);
  });
});

describe("API keys", () => {
  it("are stored as their SHA-256, in hex", () => {
    expect(hashKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashKey("é")).toBe(sha256("é"));
  });

  it("carry a 12-hex-digit id and 256 random bits", () => {
    const { keyId, key } = newApiKey();
    expect(keyId).toMatch(/^[0-9a-f]{12}$/);
    expect(key).toMatch(new RegExp(`^bk_${keyId}_[A-Za-z0-9_-]{43}$`));
    expect(newApiKey().key).not.toBe(key);
    expect(MIN_KEY_LENGTH).toBe(24);
  });

  it("tell their id, or one derived from the hash for a key set by hand", () => {
    expect(keyIdOf(`bk_0123456789ab_${"x".repeat(43)}`)).toBe("0123456789ab");
    const handMade = "a-key-set-by-hand-long-enough";
    expect(keyIdOf(handMade)).toBe(sha256(handMade).slice(0, 12));
    // Not Baton's format: no prefix, an id too short, or upper-case hex.
    for (const key of [
      `x_bk_0123456789ab_${"x".repeat(43)}`,
      "bk_0123456789a_rest",
      "bk_0123456789AB_rest",
    ]) {
      expect(keyIdOf(key)).toBe(sha256(key).slice(0, 12));
    }
  });

  it("compare hashes in full", () => {
    const hash = sha256("k");
    expect(sameHash(hash, sha256("k"))).toBe(true);
    expect(sameHash(hash, sha256("other"))).toBe(false);
    expect(sameHash(hash, hash.slice(0, 62))).toBe(false);
    expect(sameHash(hash, "")).toBe(false);
  });
});

describe("callback tokens", () => {
  it("carry the tenant in the clear, 256 random bits, and are stored as their hash", () => {
    const { token, hash } = newCallbackToken("acme");
    expect(token).toMatch(/^bcb\.acme\.[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(sha256(token));
    expect(newCallbackToken("acme").token).not.toBe(token);
    expect(tenantOfCallbackToken(token)).toBe("acme");
  });

  it("name no tenant when they are not in the format", () => {
    const random = "A".repeat(43);
    expect(tenantOfCallbackToken(`bcb.${"a".repeat(63)}.${random}`)).toBe("a".repeat(63));
    expect(tenantOfCallbackToken(`bcb.0-a.${"_-".repeat(21)}z`)).toBe("0-a");
    for (const token of [
      `bcb.${"a".repeat(64)}.${random}`,
      `bcb.-acme.${random}`,
      `bcb.Acme.${random}`,
      `bcb..${random}`,
      `bcb.acme.${random}A`,
      `bcb.acme.${random.slice(1)}`,
      `bcb.acme.${random.slice(1)}.`,
      `xbcb.acme.${random}`,
      `bcbxacme.${random}`,
      `bcb.acme.${random}\n`,
    ]) {
      expect(tenantOfCallbackToken(token), token).toBeUndefined();
    }
  });
});

describe("file tokens", () => {
  const SECRET = "file-secret";
  const NOW = new Date("2026-01-01T12:00:00.900Z");
  const nowSeconds = Date.parse("2026-01-01T12:00:00.000Z") / 1000;
  const file = { tenant: "acme", key: "acme/r1/out.csv" };
  const payloadOf = (token: string) =>
    JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString("utf8")) as unknown;
  const signed = (payload: string, secret = SECRET) =>
    `${payload}.${createHmac("sha256", secret).update(payload).digest("base64url")}`;

  function refusal(run: () => unknown): { type: unknown; message: string } {
    try {
      run();
    } catch (error) {
      return { type: (error as Error).constructor, message: (error as Error).message };
    }
    throw new Error("expected a refusal");
  }

  it("last an hour by default, a week at most", () => {
    expect(FILE_TOKEN_DEFAULT_SECONDS).toBe(3_600);
    expect(FILE_TOKEN_MAX_SECONDS).toBe(604_800);
  });

  it("sign the tenant, the key and the expiry, rounded up to a whole second", () => {
    const token = mintFileToken(SECRET, file, NOW);
    expect(payloadOf(token)).toStrictEqual({
      t: "acme",
      k: "acme/r1/out.csv",
      e: nowSeconds + 3_601,
      i: NOW.getTime(),
    });
    const payload = token.split(".")[0] ?? "";
    expect(token).toBe(signed(payload));
    expect(payloadOf(mintFileToken(SECRET, file, NOW, 1))).toMatchObject({ e: nowSeconds + 2 });
    expect(payloadOf(mintFileToken(SECRET, file, NOW, 604_800))).toMatchObject({ e: nowSeconds + 604_801 });
    const onTheSecond = new Date(nowSeconds * 1000);
    expect(payloadOf(mintFileToken(SECRET, file, onTheSecond, 1))).toMatchObject({ e: nowSeconds + 1 });
  });

  it.each([0, -1, 1.5, 604_801, Number.NaN])("refuse a lifetime of %s seconds", (seconds) => {
    expect(refusal(() => mintFileToken(SECRET, file, NOW, seconds))).toStrictEqual({
      type: ValidationError,
      message: `a file token lasts 1 s to 604800 s (7 days), not ${seconds}`,
    });
  });

  it("grant their file for at least their lifetime, until they expire, and not at the second they do", () => {
    const token = mintFileToken(SECRET, file, NOW, 60);
    const grant = { ...file, issuedAt: NOW.getTime() };
    expect(verifyFileToken(SECRET, token, NOW)).toStrictEqual(grant);
    expect(verifyFileToken(SECRET, token, new Date(NOW.getTime() + 60_000))).toStrictEqual(grant);
    const expiry = (nowSeconds + 61) * 1000;
    expect(verifyFileToken(SECRET, token, new Date(expiry - 1))).toStrictEqual(grant);
    expect(refusal(() => verifyFileToken(SECRET, token, new Date(expiry)))).toStrictEqual({
      type: UnauthorizedError,
      message: "the file token has expired",
    });
  });

  it("are refused when changed, signed with another secret, or not tokens at all", () => {
    const token = mintFileToken(SECRET, file, NOW);
    const [payload = "", signature = ""] = token.split(".");
    const notToken = { type: UnauthorizedError, message: "not a file token" };
    const badSignature = { type: UnauthorizedError, message: "the file token's signature does not match" };
    expect(refusal(() => verifyFileToken(SECRET, payload, NOW))).toStrictEqual(notToken);
    expect(refusal(() => verifyFileToken(SECRET, `${token}.x`, NOW))).toStrictEqual(notToken);
    expect(refusal(() => verifyFileToken("other-secret", token, NOW))).toStrictEqual(badSignature);
    expect(refusal(() => verifyFileToken(SECRET, `${payload}.${signature.slice(1)}`, NOW))).toStrictEqual(
      badSignature,
    );
    const otherFile = Buffer.from(JSON.stringify({ t: "evil", k: "evil/x", e: nowSeconds + 60 })).toString(
      "base64url",
    );
    expect(refusal(() => verifyFileToken(SECRET, `${otherFile}.${signature}`, NOW))).toStrictEqual(
      badSignature,
    );
    // Correctly signed, but not the payload of a file token.
    const wrongShape = Buffer.from(JSON.stringify({ t: "acme", k: "x", e: "never" })).toString("base64url");
    expect(refusal(() => verifyFileToken(SECRET, signed(wrongShape), NOW))).toStrictEqual(notToken);
  });
});
