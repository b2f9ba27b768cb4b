/** Read tokens as data: signed, bound to one run, expiring, and never a file token. */
import { describe, expect, it } from "vitest";
import { UnauthorizedError } from "../../shared/core/errors.ts";
import { mintFileToken, verifyFileToken } from "../../shared/core/file-token.ts";
import { mintReadToken, verifyReadToken } from "../../shared/core/read-token.ts";

const secret = "s".repeat(40);
const now = new Date("2026-11-30T10:00:00Z");

describe("read tokens", () => {
  it("grant their run until they expire", () => {
    const { token, expiresAt } = mintReadToken(secret, { tenant: "acme", taskId: "run-1" }, now, 60);
    expect(expiresAt.toISOString()).toBe("2026-11-30T10:01:00.000Z");
    expect(verifyReadToken(secret, token, new Date(now.getTime() + 59_000))).toEqual({
      tenant: "acme",
      taskId: "run-1",
      expiresAt,
    });
    expect(() => verifyReadToken(secret, token, new Date(now.getTime() + 60_000))).toThrow(/expired/);
  });

  it("last at least the seconds asked for, whatever the millisecond they are minted at", () => {
    const lateInASecond = new Date("2026-11-30T10:00:00.950Z");
    const { token, expiresAt } = mintReadToken(secret, { tenant: "acme", taskId: "run-1" }, lateInASecond, 1);
    expect(expiresAt.toISOString()).toBe("2026-11-30T10:00:02.000Z");
    expect(verifyReadToken(secret, token, new Date("2026-11-30T10:00:01.950Z")).taskId).toBe("run-1");
    expect(() => verifyReadToken(secret, token, expiresAt)).toThrow(/expired/);
  });

  it("are refused under another secret, and are not file tokens (nor file tokens read tokens)", () => {
    const { token } = mintReadToken(secret, { tenant: "acme", taskId: "run-1" }, now);
    expect(() => verifyReadToken("t".repeat(40), token, now)).toThrow(UnauthorizedError);
    expect(() => verifyFileToken(secret, token, now)).toThrow(UnauthorizedError);
    const file = mintFileToken(secret, { tenant: "acme", key: "acme/run-1/out.txt" }, now);
    expect(() => verifyReadToken(secret, `rt.${file}`, now)).toThrow(UnauthorizedError);
    expect(() => verifyReadToken(secret, file, now)).toThrow(UnauthorizedError);
  });

  it("last 1 s to 24 h", () => {
    expect(() => mintReadToken(secret, { tenant: "a", taskId: "r" }, now, 0)).toThrow(/24 hours/);
    expect(() => mintReadToken(secret, { tenant: "a", taskId: "r" }, now, 86_401)).toThrow(/24 hours/);
  });
});
