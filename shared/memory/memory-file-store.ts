import type { Readable } from "node:stream";
import type { FileStore } from "../core/ports.ts";

/**
 * Task files in memory. Download links are `memory:` URLs naming the key, the file name and
 * when the link expires, so a test can tell which file a link points to.
 */
export class MemoryFileStore implements FileStore {
  readonly #files = new Map<string, { body: Buffer; contentType: string }>();
  readonly #now: () => Date;

  constructor(options: { now: () => Date }) {
    this.#now = options.now;
  }

  async put(
    key: string,
    body: Buffer | Uint8Array | string | Readable,
    contentType: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<{ size: number }> {
    options.signal?.throwIfAborted();
    const bytes = await toBuffer(body);
    // Like an aborted S3 upload: nothing lands once the signal has fired.
    options.signal?.throwIfAborted();
    this.#files.set(key, { body: bytes, contentType });
    return { size: bytes.length };
  }

  async size(key: string): Promise<number | undefined> {
    return this.#files.get(key)?.body.length;
  }

  async downloadUrl(key: string, fileName: string, seconds: number): Promise<string> {
    const expires = new Date(this.#now().getTime() + seconds * 1000).toISOString();
    const query = new URLSearchParams({ name: fileName, expires });
    return `memory://files/${encodeURIComponent(key)}?${query.toString()}`;
  }

  /** A stored file (a copy), or undefined. */
  read(key: string): { body: Buffer; contentType: string } | undefined {
    const file = this.#files.get(key);
    return file === undefined ? undefined : { body: Buffer.from(file.body), contentType: file.contentType };
  }
}

async function toBuffer(body: Buffer | Uint8Array | string | Readable): Promise<Buffer> {
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}
