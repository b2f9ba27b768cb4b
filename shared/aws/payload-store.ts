/**
 * Run payloads (params, output) too large for a DynamoDB item, in S3: the claim check. The run's
 * item beside the hot item then holds a pointer {key, bytes, sha256} instead of the JSON.
 *
 * Objects are content-addressed under the run: `<tenant>/<run id>/<field>/<sha256>.json` in a
 * bucket of their own (no tenant ever lists or reads it: the API serves payloads itself). The same
 * value written twice (a redelivered end, a retried write) is the same object, so a retry never
 * leaves a second one, and an object, once written, never changes: readers may cache it.
 *
 * Crash window: the object is written first, then the DynamoDB item that points to it. A write
 * that fails or is refused after the put leaves an unreferenced object, which the bucket's
 * lifecycle rule deletes (infra: PAYLOAD_RUN_HORIZON_DAYS after the run's retention); a pointer is never written before its
 * object exists.
 */
import { createHash } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { z } from "zod";
import type { RunRef } from "../core/run.ts";

export { CLAIM_CHECK_BYTES } from "../core/limits.ts";

/** Where a claim-checked payload is, and what it must be when read back. */
export const PayloadPointer = z.object({
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type PayloadPointer = z.infer<typeof PayloadPointer>;

/** Objects a store keeps in memory, by total JSON size: a worker reads the same params on every claim. */
const CACHE_BYTES = 16 * 1024 * 1024;

/** Where the run store keeps payloads above CLAIM_CHECK_BYTES. */
export interface PayloadStore {
  put(run: RunRef, field: string, json: string): Promise<PayloadPointer>;
  get(pointer: PayloadPointer): Promise<string>;
}

export class S3PayloadStore implements PayloadStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #cache = new Map<string, string>();
  #cachedBytes = 0;

  constructor(options: { client: S3Client; bucket: string }) {
    this.#client = options.client;
    this.#bucket = options.bucket;
  }

  /** Writes one payload (its JSON) of a run; the pointer to keep beside the run. */
  async put(run: RunRef, field: string, json: string): Promise<PayloadPointer> {
    const body = Buffer.from(json, "utf8");
    const sha256 = createHash("sha256").update(body).digest("hex");
    const key = `${run.tenant}/${run.id}/${field}/${sha256}.json`;
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        Body: body,
        ContentType: "application/json",
      }),
    );
    this.#remember(key, json);
    return { key, bytes: body.byteLength, sha256 };
  }

  /** The JSON a pointer names, checked against its size and hash. */
  async get(pointer: PayloadPointer): Promise<string> {
    const cached = this.#cache.get(pointer.key);
    if (cached !== undefined) return cached;
    let body: Uint8Array;
    try {
      const result = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: pointer.key }),
      );
      body = (await result.Body?.transformToByteArray()) ?? new Uint8Array();
    } catch (error) {
      if (error instanceof Error && (error.name === "NoSuchKey" || error.name === "NotFound")) {
        throw new Error(`payload ${pointer.key} is missing from the payloads bucket`, { cause: error });
      }
      throw error;
    }
    const sha256 = createHash("sha256").update(body).digest("hex");
    if (body.byteLength !== pointer.bytes || sha256 !== pointer.sha256) {
      throw new Error(`payload ${pointer.key} does not match its pointer (size or SHA-256 differs)`);
    }
    const json = Buffer.from(body).toString("utf8");
    this.#remember(pointer.key, json);
    return json;
  }

  #remember(key: string, json: string): void {
    if (json.length > CACHE_BYTES / 4 || this.#cache.has(key)) return;
    this.#cache.set(key, json);
    this.#cachedBytes += json.length;
    for (const [oldest, value] of this.#cache) {
      if (this.#cachedBytes <= CACHE_BYTES) break;
      this.#cache.delete(oldest);
      this.#cachedBytes -= value.length;
    }
  }
}
