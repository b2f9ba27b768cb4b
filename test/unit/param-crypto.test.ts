import { randomBytes } from "node:crypto";
import type { KMSClient } from "@aws-sdk/client-kms";
import { describe, expect, it } from "vitest";
import { KmsParamCrypto, LocalParamCrypto } from "../../shared/aws/param-crypto.ts";
import { isSealed, maskSealed } from "../../shared/core/sealed.ts";

const context = { tenant: "acme", taskId: "t1", param: "password" };

describe("LocalParamCrypto", () => {
  const crypto = new LocalParamCrypto(randomBytes(32));

  it("seals and opens a value, never showing it in the sealed text", async () => {
    const sealed = await crypto.seal('"hunter2"', context);
    expect(isSealed(sealed)).toBe(true);
    expect(sealed).not.toContain("hunter2");
    expect(await crypto.open(sealed, context)).toBe('"hunter2"');
    expect(await crypto.seal('"hunter2"', context)).not.toBe(sealed); // fresh key and IV each time
  });

  it("opens only for the tenant, task and param it was sealed for, and refuses tampering", async () => {
    const sealed = await crypto.seal("secret", context);
    await expect(crypto.open(sealed, { ...context, tenant: "globex" })).rejects.toThrow();
    await expect(crypto.open(sealed, { ...context, taskId: "t2" })).rejects.toThrow();
    await expect(crypto.open(sealed, { ...context, param: "other" })).rejects.toThrow();
    await expect(new LocalParamCrypto(randomBytes(32)).open(sealed, context)).rejects.toThrow();
    const tampered = `${sealed.slice(0, -4)}AAAA`;
    await expect(crypto.open(tampered, context)).rejects.toThrow();
  });

  it("masks sealed values at any depth", async () => {
    const sealed = await crypto.seal("x", context);
    expect(maskSealed({ a: sealed, b: [1, { c: sealed }], d: "plain" })).toEqual({
      a: "[encrypted]",
      b: [1, { c: "[encrypted]" }],
      d: "plain",
    });
  });
});

describe("values sealed by an earlier release", () => {
  // Sealed once with this key and kept as stored data is. What a value is bound to
  // (shared/core/sealed.ts sealAad) must never change form, or the chain params and destination
  // credentials already stored stop opening after an upgrade.
  const kek = Buffer.alloc(32, 7);
  const param =
    "baton:sealed:v1:eyJrIjoic1E5ZVVrT0d3bXMtMVlwZDJKRWpUSWJDUVh0b0h0UDRfQzZSMEQxVTJob0tpdng4d3Q3LUo4Zk9LZm8wME9ReTBLMWdHOVJSMk9RSFRVYUoiLCJpdiI6IlRSU2VXVzBrbFJNbDlkZDgiLCJ0YWciOiJXcFBUbFJhODU2amVQS0E1R1RXNU5nIiwiY3QiOiJBVE9BTjgtRWxaV04ifQ";
  const credential =
    "baton:sealed:v1:eyJrIjoiek82QllibkFMLTNfbHVMWEFITEVIQW01QnYwbFItcEtweVh3OHk1RWt5NXhHVnd3ZWFvVEdVemVWdW5qMlVTLWZtejhWSEtSTm9xMVlzOUsiLCJpdiI6InpaV2hrYk9hMU5pdFdNaGIiLCJ0YWciOiJOajctX2VmdXB5UlRTNHotTm5RVWN3IiwiY3QiOiJfZG56QzF6a18yQU15SFEifQ";

  it("still open, a chain param and a destination credential alike", async () => {
    const crypto = new LocalParamCrypto(kek);
    expect(await crypto.open(param, context)).toBe('"hunter2"');
    expect(
      await crypto.open(credential, { tenant: "acme", destination: "clienttrack", credential: "password" }),
    ).toBe("s3cret-pass");
  });
});

describe("KmsParamCrypto", () => {
  it("asks KMS for a data key with the context as encryption context, and for it back", async () => {
    const keys = new Map<string, Buffer>();
    const calls: Array<{ name: string; input: Record<string, unknown> }> = [];
    const kms = {
      async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
        calls.push({ name: command.constructor.name, input: command.input });
        if (command.constructor.name === "GenerateDataKeyCommand") {
          const plain = randomBytes(32);
          const blob = randomBytes(16);
          keys.set(blob.toString("hex"), plain);
          return { Plaintext: plain, CiphertextBlob: blob };
        }
        return {
          Plaintext: keys.get(Buffer.from(command.input.CiphertextBlob as Uint8Array).toString("hex")),
        };
      },
    };
    const crypto = new KmsParamCrypto({ kms: kms as unknown as KMSClient, keyId: "alias/baton" });
    const sealed = await crypto.seal("top secret", context);
    expect(await crypto.open(sealed, context)).toBe("top secret");
    expect(calls.map((c) => c.name)).toEqual(["GenerateDataKeyCommand", "DecryptCommand"]);
    expect(calls[0]?.input).toMatchObject({
      KeyId: "alias/baton",
      KeySpec: "AES_256",
      EncryptionContext: context,
    });
    expect(calls[1]?.input).toMatchObject({ EncryptionContext: context });
  });
});
