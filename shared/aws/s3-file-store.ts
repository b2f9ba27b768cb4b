import { Readable } from "node:stream";
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { FileStore } from "../core/ports.ts";

/** lib-storage's part size: a body up to it is one PutObject, a larger one a multipart upload. */
const PART_BYTES = 5 * 1024 * 1024;

/**
 * Task files in S3. A body up to 5 MiB is one PutObject, which the attempt's signal cancels; a
 * larger one streams through lib-storage's Upload (multipart, aborted with the signal). Downloads
 * are short-lived presigned URLs, so no file ever passes through a Lambda response, the queue or
 * a DynamoDB item.
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
    let size: number;
    try {
      const start = await firstPart(body, PART_BYTES, signal);
      if ("whole" in start) {
        // One request, which the signal cancels: lib-storage sends a lone part without it.
        await this.#client.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: key,
            Body: start.whole,
            ContentType: contentType,
          }),
          signal === undefined ? {} : { abortSignal: signal },
        );
        size = start.whole.length;
      } else {
        const upload = new Upload({
          client: this.#client,
          params: { Bucket: this.#bucket, Key: key, Body: start.all, ContentType: contentType },
        });
        // Aborting a multipart upload stops its parts and never completes it.
        const abort = () => void upload.abort().catch(() => undefined);
        signal?.addEventListener("abort", abort, { once: true });
        try {
          await upload.done();
        } finally {
          signal?.removeEventListener("abort", abort);
        }
        size = start.size();
      }
    } catch (error) {
      // The caller learns why its attempt stopped, not how the SDK noticed.
      signal?.throwIfAborted();
      throw error;
    }
    // Counted on the way, not asked of S3 again: a completed upload holds every byte sent.
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

/**
 * A body's first `limit` bytes and more: the whole of it when it fits (one request), or all of it
 * again as a stream (what was read, then the rest) with the bytes it has given so far. A stream
 * that stalls is given up when the signal fires, so nothing is sent for an attempt that has stopped.
 */
async function firstPart(
  body: Buffer | Uint8Array | string | Readable,
  limit: number,
  signal: AbortSignal | undefined,
): Promise<{ whole: Buffer } | { all: Buffer | Readable; size: () => number }> {
  if (!(body instanceof Readable)) {
    const bytes =
      typeof body === "string"
        ? Buffer.from(body)
        : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return bytes.length <= limit ? { whole: bytes } : { all: bytes, size: () => bytes.length };
  }
  const chunks: Buffer[] = [];
  let read = 0;
  const iterator = body[Symbol.asyncIterator]();
  let stop: () => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = () => reject(signal?.reason);
  });
  stopped.catch(() => undefined);
  if (signal?.aborted === true) stop();
  signal?.addEventListener("abort", stop, { once: true });
  try {
    while (read <= limit) {
      const next = await Promise.race([iterator.next(), stopped]);
      if (next.done === true) return { whole: Buffer.concat(chunks) };
      const chunk = asBuffer(next.value);
      chunks.push(chunk);
      read += chunk.length;
    }
  } finally {
    signal?.removeEventListener("abort", stop);
  }
  async function* again() {
    yield* chunks;
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
      const chunk = asBuffer(next.value);
      read += chunk.length;
      yield chunk;
    }
  }
  return { all: Readable.from(again()), size: () => read };
}

/** A stream's chunk as bytes: object-mode and string streams give other values than Buffers. */
function asBuffer(chunk: Buffer | Uint8Array | string): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
}
