/**
 * Upload destinations: a tenant's named FTP, FTPS or SFTP servers, which handlers upload files to
 * with `ctx.files.upload`. The URL says where (no credentials ever); the credentials are kept
 * sealed beside it and opened only by the worker, at upload time.
 */
import { BlockList, isIP } from "node:net";
import { z } from "zod";
import { ValidationError } from "./errors.ts";

export const DESTINATION_PROTOCOLS = ["ftp", "ftps", "sftp"] as const;
export type DestinationProtocol = (typeof DESTINATION_PROTOCOLS)[number];

const DEFAULT_PORT: Record<DestinationProtocol, number> = { ftp: 21, ftps: 21, sftp: 22 };
/** FTPS on this port is implicit TLS (the connection starts with TLS); on any other, explicit (AUTH TLS). */
export const IMPLICIT_FTPS_PORT = 990;

/** Where files go, parsed from a destination URL. */
export interface DestinationAddress {
  protocol: DestinationProtocol;
  /** A DNS name (lowercase), an IPv4 address, or an IPv6 address (without brackets). */
  host: string;
  port: number;
  /**
   * The folder, as segments. FTP: relative to the login folder (as in RFC 1738 FTP URLs). SFTP:
   * from the root, or from the login folder when the first segment is `~`.
   */
  folder: readonly string[];
}

/** A stored destination. `password` and `privateKey` are sealed (shared/core/sealed.ts), never clear. */
export interface DestinationRecord {
  tenant: string;
  name: string;
  /** Normalized, without credentials (formatDestinationUrl). */
  url: string;
  username: string;
  password?: string;
  privateKey?: string;
  /** SFTP: the server's host key fingerprint, `SHA256:<base64>`; when set, any other key is refused. */
  hostKey?: string;
  createdAt: string;
  updatedAt: string;
}

/** Which credentials a destination has, for people: the values themselves are never shown. */
export type CredentialKind = "password" | "privateKey";

export function credentialKindsOf(destination: DestinationRecord): CredentialKind[] {
  return [
    ...(destination.password === undefined ? [] : ["password" as const]),
    ...(destination.privateKey === undefined ? [] : ["privateKey" as const]),
  ];
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** Folder names: no percent-encoding, spaces or anything a server could read as a command or a path trick. */
const SEGMENT = /^[A-Za-z0-9._~@+-]{1,255}$/;
const MAX_URL_CHARS = 2_048;

/**
 * Parses and checks a destination URL: `ftp://`, `ftps://` or `sftp://`, a host, an optional port
 * and folder; no credentials, query or fragment. Throws ValidationError naming what is wrong.
 */
export function parseDestinationUrl(text: string): DestinationAddress {
  const bad = (why: string) =>
    new ValidationError(`url ${why}`, { details: [{ path: "url", message: why }] });
  if (text.length > MAX_URL_CHARS) throw bad(`must be at most ${MAX_URL_CHARS} characters`);
  const match = /^([a-z]+):\/\/([^/?#]*)([^?#]*)$/i.exec(text);
  if (match === null) {
    throw bad("must be ftp://, ftps:// or sftp:// followed by a host, with no query or fragment");
  }
  const [, scheme = "", authority = "", path = ""] = match;
  const protocol = scheme.toLowerCase();
  if (!isProtocol(protocol)) throw bad(`scheme "${scheme}" is not one of ftp, ftps, sftp`);
  if (authority.includes("@")) {
    throw bad("must not carry credentials: send them as username, password or privateKey");
  }
  const hostPort = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(authority);
  if (hostPort === null) throw bad("must name a host, and a port of digits if any");
  const [, rawHost = "", rawPort] = hostPort;
  const host = checkedHost(rawHost, bad);
  const port = rawPort === undefined ? DEFAULT_PORT[protocol] : Number(rawPort);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw bad("port must be 1-65535");
  const folder = path.split("/").filter((segment) => segment !== "");
  for (const [index, segment] of folder.entries()) {
    if (segment === "." || segment === ".." || !SEGMENT.test(segment)) {
      throw bad(`folder "${segment}" must be letters, digits, '.', '_', '~', '@', '+' or '-' (not . or ..)`);
    }
    if (segment.includes("~") && !(protocol === "sftp" && index === 0 && segment === "~")) {
      throw bad("'~' may only be an SFTP URL's first folder (the login folder)");
    }
  }
  return { protocol, host, port, folder };
}

function checkedHost(raw: string, bad: (why: string) => ValidationError): string {
  if (raw.startsWith("[")) {
    const inner = raw.slice(1, -1);
    if (isIP(inner) !== 6) throw bad(`host ${raw} is not an IPv6 address`);
    return inner.toLowerCase();
  }
  const host = raw.toLowerCase();
  if (/^[0-9.]+$/.test(host)) {
    if (isIP(host) !== 4) throw bad(`host ${raw} is not an IPv4 address`);
    return host;
  }
  const labels = host.split(".");
  if (host.length > 253 || !labels.every((label) => LABEL.test(label))) {
    throw bad(`host "${raw}" is not a host name (letters, digits, '-' and '.')`);
  }
  return host;
}

function isProtocol(value: string): value is DestinationProtocol {
  return (DESTINATION_PROTOCOLS as readonly string[]).includes(value);
}

/** The URL of an address, normalized: the port only when it is not the protocol's default. */
export function formatDestinationUrl(address: DestinationAddress): string {
  const host = address.host.includes(":") ? `[${address.host}]` : address.host;
  const port = address.port === DEFAULT_PORT[address.protocol] ? "" : `:${address.port}`;
  return `${address.protocol}://${host}${port}${address.folder.map((segment) => `/${segment}`).join("")}`;
}

/** The URL of a file uploaded to an address: what `FTP-URL` shows (no credentials). */
export function uploadedFileUrl(address: DestinationAddress, fileName: string): string {
  return `${formatDestinationUrl(address)}/${encodeURIComponent(fileName)}`;
}

/**
 * Credentials as sent: printable text only. A line break in a username or password would let it
 * end the FTP command it travels in and start another.
 */
export const CredentialText = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "must not contain control characters (line breaks, tabs, NUL)");

/** An OpenSSH/PEM private key: lines of text, nothing else. */
export const PrivateKeyText = z
  .string()
  .min(1)
  .max(16_384)
  .regex(
    /^-----BEGIN [A-Z0-9 ]+-----\r?\n[\s\S]+\n-----END [A-Z0-9 ]+-----\s*$/,
    "is not a PEM or OpenSSH private key",
  )
  .regex(/^[\x20-\x7e\r\n]*$/, "must be printable ASCII text");

/** `SHA256:` and the base64 of the SHA-256 of the host key, as `ssh-keygen -lf` prints it. */
export const HostKeyFingerprint = z
  .string()
  .regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, "must be SHA256:<base64>, as ssh-keygen -l prints it");

/**
 * Addresses a tenant's destination may not reach unless the deployment allows it (locally it
 * does): loopback, private, link-local (instance metadata), shared, multicast and reserved ranges.
 */
const NOT_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8],
  ["10.0.0.0", 8],
  ["100.64.0.0", 10],
  ["127.0.0.0", 8],
  ["169.254.0.0", 16],
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 3],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 127],
  ["fc00::", 7],
  ["fe80::", 10],
  ["ff00::", 8],
  ["64:ff9b::", 96],
] as const) {
  NOT_PUBLIC.addSubnet(network, prefix, "ipv6");
}

/** Whether an IP address is on the public internet (IPv4-mapped IPv6 is judged as its IPv4). */
export function isPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return isPublicAddress(mapped);
  const family = isIP(address);
  if (family === 0) return false;
  return !NOT_PUBLIC.check(address, family === 4 ? "ipv4" : "ipv6");
}
