import type { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { FileStore } from "../core/ports.ts";

/**
 * Task files in S3. Uploads go through lib-storage's Upload, which streams (multipart) bodies of
 * any size; downloads are short-lived presigned URLs, so no file ever passes through a Lambda
 * response, the queue or a DynamoDB item.
 */
export class S3FileStore implements FileStore {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(options: { client: S3Client; bucket: string }) {
    this.#client = options.client;
    this.#bucket = options.bucket;
  }

  async put(
    key: string,
    body: Buffer | Uint8Array | string | Readable,
    contentType: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ size: number }> {
    const { signal } = options;
    signal?.throwIfAborted();
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: key, Body: body, ContentType: contentType },
    });
    const abort = () => void upload.abort().catch(() => undefined);
    signal?.addEventListener("abort", abort, { once: true });
    try {
      await upload.done();
    } finally {
      signal?.removeEventListener("abort", abort);
    }
    const size = await this.size(key);
    if (size === undefined) throw new Error(`uploaded ${key} but cannot find it`);
    return { size };
  }

  async size(key: string): Promise<number | undefined> {
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return head.ContentLength ?? 0;
    } catch (error) {
      if (error instanceof Error && (error.name === "NotFound" || error.name === "NoSuchKey"))
        return undefined;
      throw error;
    }
  }

  downloadUrl(key: string, fileName: string, seconds: number): Promise<string> {
    return getSignedUrl(
      this.#client,
      new GetObjectCommand({
        Bucket: this.#bucket,
        Key: key,
        ResponseContentDisposition: `attachment; filename="${fileName.replace(/"/g, "")}"`,
      }),
      { expiresIn: seconds },
    );
  }
}
