import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { ValidationError } from "../core/errors.ts";
import type { ParamCrypto } from "../core/ports.ts";
import { SEALED_PREFIX, type SealContext, sealAad } from "../core/sealed.ts";

/**
 * Seals chain params with AES-256-GCM under one key held in memory, with tenant, task and param
 * bound in as authenticated data: as with KMS, a sealed value moved to another run does not open,
 * and the stored value never holds the clear text.
 */
export class MemoryParamCrypto implements ParamCrypto {
  readonly #key: Buffer;

  constructor(options: { key?: Buffer } = {}) {
    this.#key = options.key ?? randomBytes(32);
    if (this.#key.length !== 32) throw new Error("the key must be 32 bytes");
  }

  async seal(plaintext: string, context: SealContext): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(sealAad(context));
    const sealed = Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED_PREFIX}${sealed.toString("base64url")}`;
  }

  async open(sealed: string, context: SealContext): Promise<string> {
    const bytes = Buffer.from(sealed.slice(SEALED_PREFIX.length), "base64url");
    if (!sealed.startsWith(SEALED_PREFIX) || bytes.length < 28)
      throw new ValidationError("a sealed value is damaged");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, bytes.subarray(0, 12));
    decipher.setAAD(sealAad(context));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString(
      "utf8",
    );
  }
}
