/**
 * An SFTP server on loopback for the upload tests, on ssh2's server: password and public-key
 * logins, and the requests a file upload makes (OPEN for writing, WRITE, CLOSE) into a folder.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { closeSync, openSync, statSync, writeSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join, normalize } from "node:path";
import ssh2 from "ssh2";

const { Server, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;

export interface TestSftpServer {
  port: number;
  /** The host key's fingerprint, `SHA256:<base64>`, as `ssh-keygen -l` prints it. */
  hostKeyFingerprint: string;
  /** How many connections were opened. */
  connections(): number;
  close(): Promise<void>;
}

export interface SftpServerOptions {
  /** `/` of the server (and every user's login folder). */
  root: string;
  /** Passwords by user. */
  passwords: Record<string, string>;
  /** Public keys (OpenSSH text) by user. */
  publicKeys?: Record<string, string>;
  /** Folders (relative to root) where opening a file answers permission denied. */
  readOnly?: string[];
}

/** A fresh key pair in OpenSSH format. */
export function newSshKeyPair(): { privateKey: string; publicKey: string } {
  const pair = utils.generateKeyPairSync("ed25519");
  return { privateKey: pair.private, publicKey: pair.public };
}

export async function startSftpServer(options: SftpServerOptions): Promise<TestSftpServer> {
  const hostKey = newSshKeyPair();
  const parsedHostKey = utils.parseKey(hostKey.privateKey);
  if (parsedHostKey instanceof Error) throw parsedHostKey;
  const fingerprint = createHash("sha256")
    .update(parsedHostKey.getPublicSSH())
    .digest("base64")
    .replace(/=+$/, "");
  let connections = 0;
  const clients = new Set<ssh2.Connection>();

  const server = new Server({ hostKeys: [hostKey.privateKey] }, (client) => {
    connections += 1;
    clients.add(client);
    client.on("close", () => clients.delete(client));
    client.on("error", () => undefined);
    client.on("authentication", (context) => {
      if (context.method === "password") {
        return options.passwords[context.username] === context.password ? context.accept() : context.reject();
      }
      if (context.method === "publickey") {
        const allowed = options.publicKeys?.[context.username];
        const key = allowed === undefined ? undefined : utils.parseKey(allowed);
        if (key === undefined || key instanceof Error) return context.reject();
        const offered = context.key.data;
        const expected = key.getPublicSSH();
        if (offered.length !== expected.length || !timingSafeEqual(offered, expected))
          return context.reject();
        // Without a signature the client only asks whether the key would do.
        if (context.signature === undefined || context.blob === undefined) return context.accept();
        return key.verify(context.blob, context.signature, context.hashAlgo) === true
          ? context.accept()
          : context.reject();
      }
      return context.reject(["password", "publickey"]);
    });
    client.on("ready", () => {
      client.on("session", (acceptSession) => {
        const session = acceptSession();
        session.on("sftp", (acceptSftp) => serveFiles(acceptSftp(), options));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    hostKeyFingerprint: `SHA256:${fingerprint}`,
    connections: () => connections,
    async close() {
      for (const client of clients) client.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serveFiles(sftp: ssh2.SFTPWrapper, options: SftpServerOptions): void {
  const open = new Map<string, number>();
  let next = 0;
  sftp.on("OPEN", (reqId, filename, flags) => {
    const relative = normalize(filename.startsWith("/") ? filename : `/${filename}`).slice(1);
    const folder = relative.split("/").slice(0, -1).join("/");
    if (relative.split("/").includes("..") || (flags & utils.sftp.OPEN_MODE.WRITE) === 0) {
      return sftp.status(reqId, STATUS.PERMISSION_DENIED, "write-only test server");
    }
    if (!isFolder(join(options.root, folder))) return sftp.status(reqId, STATUS.NO_SUCH_FILE, "No such file");
    if ((options.readOnly ?? []).includes(folder)) {
      return sftp.status(reqId, STATUS.PERMISSION_DENIED, "Permission denied");
    }
    next += 1;
    const handle = Buffer.from(String(next));
    open.set(handle.toString(), openSync(join(options.root, relative), "w"));
    sftp.handle(reqId, handle);
  });
  sftp.on("WRITE", (reqId, handle, offset, data) => {
    const fd = open.get(handle.toString());
    if (fd === undefined) return sftp.status(reqId, STATUS.FAILURE, "bad handle");
    writeSync(fd, data, 0, data.length, offset);
    sftp.status(reqId, STATUS.OK);
  });
  sftp.on("CLOSE", (reqId, handle) => {
    const fd = open.get(handle.toString());
    if (fd === undefined) return sftp.status(reqId, STATUS.FAILURE, "bad handle");
    closeSync(fd);
    open.delete(handle.toString());
    sftp.status(reqId, STATUS.OK);
  });
  for (const request of [
    "READ",
    "FSTAT",
    "FSETSTAT",
    "OPENDIR",
    "READDIR",
    "LSTAT",
    "STAT",
    "REMOVE",
    "RMDIR",
    "REALPATH",
    "READLINK",
    "SETSTAT",
    "MKDIR",
    "RENAME",
    "SYMLINK",
  ] as const) {
    sftp.on(request, (reqId: number) => sftp.status(reqId, STATUS.OP_UNSUPPORTED, "not in this test server"));
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
