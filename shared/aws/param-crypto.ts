/**
 * Envelope encryption of chain params and destination credentials: a fresh 256-bit data key per
 * value encrypts it with AES-256-GCM, the data key itself is encrypted by a key-encryption key, and
 * tenant, task and param name (or tenant, destination and credential kind) are bound in as
 * authenticated data (and, with KMS, as encryption context), so a sealed value moved to another
 * run or destination does not open. On AWS the key-encryption key is a KMS key; locally it is a
 * key file in the data folder.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptCommand, GenerateDataKeyCommand, type KMSClient } from "@aws-sdk/client-kms";
import { ValidationError } from "../core/errors.ts";
import type { ParamCrypto } from "../core/ports.ts";
import { SEALED_PREFIX, type SealContext, sealAad } from "../core/sealed.ts";

interface Envelope {
  /** The data key, encrypted by the key-encryption key. */
  k: string;
  iv: string;
  tag: string;
  ct: string;
}

abstract class EnvelopeCrypto implements ParamCrypto {
  protected abstract newDataKey(context: SealContext): Promise<{ plain: Buffer; sealed: string }>;
  protected abstract openDataKey(sealed: string, context: SealContext): Promise<Buffer>;

  async seal(plaintext: string, context: SealContext): Promise<string> {
    const key = await this.newDataKey(context);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key.plain, iv);
    cipher.setAAD(sealAad(context));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const envelope: Envelope = {
      k: key.sealed,
      iv: iv.toString("base64url"),
      tag: cipher.getAuthTag().toString("base64url"),
      ct: ct.toString("base64url"),
    };
    return `${SEALED_PREFIX}${Buffer.from(JSON.stringify(envelope)).toString("base64url")}`;
  }

  async open(sealed: string, context: SealContext): Promise<string> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(Buffer.from(sealed.slice(SEALED_PREFIX.length), "base64url").toString("utf8"));
    } catch {
      throw new ValidationError("a sealed value is damaged");
    }
    const key = await this.openDataKey(envelope.k, context);
    const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(envelope.iv, "base64url"));
    decipher.setAAD(sealAad(context));
    decipher.setAuthTag(Buffer.from(envelope.tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(envelope.ct, "base64url")), decipher.final()]).toString(
      "utf8",
    );
  }
}

/** The local key-encryption key: 32 bytes kept in the data folder. */
export class LocalParamCrypto extends EnvelopeCrypto {
  readonly #kek: Buffer;

  constructor(kek: Buffer) {
    super();
    if (kek.length !== 32) throw new Error("the local encryption key must be 32 bytes");
    this.#kek = kek;
  }

  protected async newDataKey(context: SealContext) {
    const plain = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#kek, iv);
    cipher.setAAD(sealAad(context));
    const wrapped = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return { plain, sealed: wrapped.toString("base64url") };
  }

  protected async openDataKey(sealed: string, context: SealContext) {
    const wrapped = Buffer.from(sealed, "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.#kek, wrapped.subarray(0, 12));
    decipher.setAAD(sealAad(context));
    decipher.setAuthTag(wrapped.subarray(wrapped.length - 16));
    return Buffer.concat([decipher.update(wrapped.subarray(12, wrapped.length - 16)), decipher.final()]);
  }
}

/** KMS as the key-encryption key; the context is the KMS encryption context too. */
export class KmsParamCrypto extends EnvelopeCrypto {
  readonly #kms: KMSClient;
  readonly #keyId: string;

  constructor(options: { kms: KMSClient; keyId: string }) {
    super();
    this.#kms = options.kms;
    this.#keyId = options.keyId;
  }

  protected async newDataKey(context: SealContext) {
    const result = await this.#kms.send(
      new GenerateDataKeyCommand({
        KeyId: this.#keyId,
        KeySpec: "AES_256",
        EncryptionContext: { ...context },
      }),
    );
    if (result.Plaintext === undefined || result.CiphertextBlob === undefined)
      throw new Error("KMS returned no data key");
    return {
      plain: Buffer.from(result.Plaintext),
      sealed: Buffer.from(result.CiphertextBlob).toString("base64url"),
    };
  }

  protected async openDataKey(sealed: string, context: SealContext) {
    const result = await this.#kms.send(
      new DecryptCommand({
        CiphertextBlob: Buffer.from(sealed, "base64url"),
        EncryptionContext: { ...context },
      }),
    );
    if (result.Plaintext === undefined) throw new Error("KMS returned no plaintext");
    return Buffer.from(result.Plaintext);
  }
}

const NO_KEY =
  "encrypted params and destination credentials need a key: this deployment has none (BATON_KMS_KEY_ID)";

/** Without a key, sealing is refused rather than done badly. */
export const noParamCrypto: ParamCrypto = {
  async seal() {
    throw new ValidationError(NO_KEY);
  },
  async open() {
    throw new ValidationError(NO_KEY);
  },
};
