/**
 * `ctx.files.upload`: streams a file to one of the tenant's destinations over FTP, FTPS (basic-ftp)
 * or SFTP (ssh2), and says what went wrong with a code the run's error carries:
 *
 * - `destination_not_found`, `destination_auth_failed`, `destination_refused` (folder, permission,
 *   quota), `destination_untrusted` (TLS certificate or SSH host key), `destination_forbidden_address`
 *   and `destination_credentials_unreadable` end the run at once (NonRetriableError);
 * - `destination_unreachable` (no answer, refused connection, timeout, a server saying "later")
 *   is retried like any error, with backoff, until the definition's maxAttempts.
 *
 * The credentials are opened here, in the worker, for the one connection, and are never logged,
 * returned or put into an error message.
 */
import { createHash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import ftp from "basic-ftp";
import ssh2 from "ssh2";
import {
  type DestinationAddress,
  type DestinationRecord,
  IMPLICIT_FTPS_PORT,
  isPublicAddress,
  parseDestinationUrl,
  uploadedFileUrl,
} from "../core/destination.ts";
import { NonRetriableError, RetriableError } from "../core/errors.ts";
import type { UploadedFile } from "../core/task.ts";
import type { Services } from "./services.ts";

/** The standard output that names the uploaded file's URL. */

const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;
/** Keepalives on an SFTP connection: a server silent this long (× count) is taken for gone. */
const SSH_KEEPALIVE_MS = 10_000;
const SSH_KEEPALIVE_COUNT = 3;

export type UploadBody = Buffer | Uint8Array | string | Readable;

type Failure = "auth_failed" | "refused" | "untrusted" | "unreachable";

/** What went wrong in a protocol client, before it becomes the run's error. */
class UploadFailure extends Error {
  constructor(
    readonly kind: Failure,
    message: string,
  ) {
    super(message);
  }
}

interface Credentials {
  password?: string;
  privateKey?: string;
}

/** Uploads `body` as `name` into the destination's folder; the file's URL (no credentials) is returned. */
export async function uploadFile(
  svc: Services,
  tenant: string,
  input: { name: string; body: UploadBody; destination: string; signal: AbortSignal },
): Promise<UploadedFile> {
  const { name, destination: destinationName, signal } = input;
  if (!FILE_NAME.test(name) || name.includes("..")) {
    throw new NonRetriableError(`file name "${name}" must be 1-128 letters, digits, '.', '_' or '-'`, {
      code: "invalid_file_name",
    });
  }
  const destination = await svc.destinations.get(tenant, destinationName);
  if (destination === undefined) {
    throw new NonRetriableError(
      `destination "${destinationName}" is not registered (PUT /v1/destinations/${destinationName})`,
      { code: "destination_not_found" },
    );
  }
  const address = parseDestinationUrl(destination.url);
  const where = `${address.protocol}://${address.host}:${address.port}`;
  const credentials = await openCredentials(svc, destination);
  const connectTo = await addressToConnect(svc, address, where);
  const body = toReadable(input.body);
  signal.throwIfAborted();
  try {
    if (address.protocol === "sftp") {
      await sftpUpload(svc, { address, connectTo, destination, credentials, name, body, signal });
    } else {
      await ftpUpload(svc, { address, connectTo, destination, credentials, name, body, signal });
    }
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw asRunError(error, where);
  } finally {
    body.destroy();
  }
  return { name, destination: destinationName, url: uploadedFileUrl(address, name) };
}

async function openCredentials(svc: Services, destination: DestinationRecord): Promise<Credentials> {
  const open = async (credential: "password" | "privateKey", sealed: string | undefined) => {
    if (sealed === undefined) return undefined;
    try {
      return await svc.crypto.open(sealed, {
        tenant: destination.tenant,
        destination: destination.name,
        credential,
      });
    } catch {
      // Like a sealed param that does not open: no retry will open it.
      throw new NonRetriableError(
        `the ${credential} of destination "${destination.name}" could not be decrypted; PUT it again`,
        { code: "destination_credentials_unreadable" },
      );
    }
  };
  const [password, privateKey] = await Promise.all([
    open("password", destination.password),
    open("privateKey", destination.privateKey),
  ]);
  return {
    ...(password === undefined ? {} : { password }),
    ...(privateKey === undefined ? {} : { privateKey }),
  };
}

/**
 * The IP address to connect to. Resolved once here and used for the connection itself, so a name
 * that resolves to a public address when checked cannot resolve to a private one when connecting.
 */
async function addressToConnect(svc: Services, address: DestinationAddress, where: string): Promise<string> {
  let addresses: string[];
  if (isIP(address.host) !== 0) {
    addresses = [address.host];
  } else {
    try {
      addresses = (await lookup(address.host, { all: true })).map((found) => found.address);
    } catch (error) {
      throw new RetriableError(
        "destination_unreachable",
        `${where}: the host name did not resolve (${(error as NodeJS.ErrnoException).code ?? "lookup failed"})`,
      );
    }
  }
  if (!svc.uploads.allowPrivateAddresses) {
    const inside = addresses.find((found) => !isPublicAddress(found));
    if (inside !== undefined) {
      throw new NonRetriableError(
        `${where}: ${inside} is not a public address; uploads go to public hosts only`,
        {
          code: "destination_forbidden_address",
        },
      );
    }
  }
  const first = addresses[0];
  if (first === undefined) throw new RetriableError("destination_unreachable", `${where}: no address found`);
  return first;
}

function toReadable(body: UploadBody): Readable {
  if (typeof body === "string") return Readable.from([Buffer.from(body, "utf8")]);
  if (body instanceof Uint8Array)
    return Readable.from([Buffer.from(body.buffer, body.byteOffset, body.byteLength)]);
  return body;
}

function asRunError(error: unknown, where: string): Error {
  if (!(error instanceof UploadFailure)) {
    // Anything unforeseen is retried: a wrong guess costs an attempt, not the run.
    return new RetriableError(
      "destination_unreachable",
      `${where}: ${(error as Error).message ?? String(error)}`,
    );
  }
  const message = `${where}: ${error.message}`;
  switch (error.kind) {
    case "unreachable":
      return new RetriableError("destination_unreachable", message);
    case "auth_failed":
      return new NonRetriableError(message, { code: "destination_auth_failed" });
    case "refused":
      return new NonRetriableError(message, { code: "destination_refused" });
    case "untrusted":
      return new NonRetriableError(message, { code: "destination_untrusted" });
  }
}

interface Transfer {
  address: DestinationAddress;
  connectTo: string;
  destination: DestinationRecord;
  credentials: Credentials;
  name: string;
  body: Readable;
  signal: AbortSignal;
}

/** Certificate problems: Node's and OpenSSL's codes for a TLS peer that cannot be trusted. */
const TLS_TRUST = /^(ERR_TLS_CERT|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH)/;

async function ftpUpload(svc: Services, transfer: Transfer): Promise<void> {
  const { address, connectTo, destination, credentials, name, body, signal } = transfer;
  // The data connection goes to the host we checked, whatever address a PASV answer names.
  const client = new ftp.Client(svc.uploads.connectTimeoutMs, { allowSeparateTransferHost: false });
  const close = () => client.close();
  signal.addEventListener("abort", close, { once: true });
  let loggedIn = false;
  try {
    const secure =
      address.protocol === "ftps" ? (address.port === IMPLICIT_FTPS_PORT ? "implicit" : true) : false;
    await client.access({
      host: connectTo,
      port: address.port,
      user: destination.username,
      password: credentials.password ?? "",
      secure,
      // The certificate must be for the name in the URL, though we connect to the address it resolved to.
      ...(secure !== false && isIP(address.host) === 0
        ? { secureOptions: { servername: address.host } }
        : {}),
    });
    loggedIn = true;
    if (address.folder.length > 0) await client.cd(address.folder.join("/"));
    await client.uploadFrom(body, name);
  } catch (error) {
    throw ftpFailure(error, loggedIn);
  } finally {
    signal.removeEventListener("abort", close);
    client.close();
  }
}

function ftpFailure(error: unknown, loggedIn: boolean): UploadFailure {
  if (error instanceof ftp.FTPError) {
    const reply = `the server answered ${error.code}: ${oneLine(error.message)}`;
    if (error.code === 530 || (!loggedIn && (error.code === 331 || error.code === 332))) {
      return new UploadFailure("auth_failed", `${reply} (wrong username or password?)`);
    }
    // 4xx: "not now" (busy, too many connections, transfer aborted): another attempt may succeed.
    if (error.code >= 400 && error.code < 500) return new UploadFailure("unreachable", reply);
    return new UploadFailure("refused", reply);
  }
  const code = (error as NodeJS.ErrnoException).code ?? "";
  const message = oneLine((error as Error).message ?? String(error));
  if (TLS_TRUST.test(code)) return new UploadFailure("untrusted", `TLS: ${message}`);
  // Refused or dropped connections, timeouts, DNS trouble: worth another attempt later.
  return new UploadFailure(
    "unreachable",
    code === "" || message.includes(code) ? message : `${message} (${code})`,
  );
}

function sftpUpload(svc: Services, transfer: Transfer): Promise<void> {
  const { address, connectTo, destination, credentials, name, body, signal } = transfer;
  const remotePath =
    address.folder[0] === "~"
      ? [...address.folder.slice(1), name].join("/")
      : `/${[...address.folder, name].join("/")}`;
  return new Promise<void>((resolve, reject) => {
    const connection = new ssh2.Client();
    let settled = false;
    let hostKeyRefused = false;
    let ready = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", abort);
      connection.end();
      if (error === undefined) resolve();
      else reject(sftpFailure(error, { ready, hostKeyRefused }));
    };
    const abort = () => finish(signal.reason);
    signal.addEventListener("abort", abort, { once: true });
    connection.on("error", finish);
    connection.on("close", () => finish(new Error("the connection closed before the upload finished")));
    connection.on("ready", () => {
      ready = true;
      connection.sftp((error, sftp) => {
        if (error !== undefined && error !== null) return finish(error);
        const out = sftp.createWriteStream(remotePath);
        pipeline(body, out).then(() => finish(), finish);
      });
    });
    const expected = destination.hostKey;
    connection.connect({
      host: connectTo,
      port: address.port,
      username: destination.username,
      ...(credentials.password === undefined ? {} : { password: credentials.password }),
      ...(credentials.privateKey === undefined ? {} : { privateKey: credentials.privateKey }),
      readyTimeout: svc.uploads.connectTimeoutMs,
      keepaliveInterval: SSH_KEEPALIVE_MS,
      keepaliveCountMax: SSH_KEEPALIVE_COUNT,
      // Without a registered fingerprint any host key is taken (docs/chains-and-files.md says so).
      hostVerifier: (key: Buffer) => {
        if (expected === undefined) return true;
        const fingerprint = `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
        hostKeyRefused = fingerprint !== expected;
        return !hostKeyRefused;
      },
    });
  });
}

/** ssh2 tells the stage of a failure by `level`; the SFTP layer by a numeric status `code`. */
function sftpFailure(error: unknown, state: { ready: boolean; hostKeyRefused: boolean }): unknown {
  if (error instanceof UploadFailure || !(error instanceof Error)) return error;
  if (state.hostKeyRefused) {
    return new UploadFailure("untrusted", "the server's host key does not match the destination's hostKey");
  }
  const { level, code } = error as Error & { level?: string; code?: unknown };
  if (level === "client-authentication") {
    return new UploadFailure(
      "auth_failed",
      "the server refused the login (wrong username, password or key?)",
    );
  }
  if (typeof code === "number") {
    // SFTP status codes: 2 no such file (the folder), 3 permission denied, 4 failure (e.g. quota).
    const why =
      code === 2 ? "no such folder" : code === 3 ? "permission denied" : "the server refused the file";
    return new UploadFailure("refused", `${why} (SFTP status ${code}: ${oneLine(error.message)})`);
  }
  return new UploadFailure("unreachable", oneLine(error.message));
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
