/**
 * A small FTP server on loopback for the upload tests, on node:net alone: login, CWD, binary type,
 * passive mode (EPSV and PASV) and STOR, which is what an upload client speaks. Written here
 * because the FTP server packages on npm pull in deprecated dependencies.
 */
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join, normalize } from "node:path";

export interface TestFtpServer {
  port: number;
  /** Every command received, with PASS arguments replaced by "***" (what reached the server). */
  commands: string[];
  /** How many control connections were opened. */
  connections(): number;
  close(): Promise<void>;
}

export interface FtpServerOptions {
  /** Files land under this folder; it is the login folder of every user. */
  root: string;
  users: Record<string, string>;
  /** Folders (relative to root) where STOR answers 550 permission denied. */
  readOnly?: string[];
}

export async function startFtpServer(options: FtpServerOptions): Promise<TestFtpServer> {
  const sockets = new Set<Socket>();
  const dataServers = new Set<Server>();
  const commands: string[] = [];
  let connections = 0;
  const server = createServer((control) => {
    connections += 1;
    sockets.add(control);
    control.on("close", () => sockets.delete(control));
    control.on("error", () => undefined);
    serve(control, options, commands, sockets, dataServers);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the FTP server has no port");
  return {
    port: address.port,
    commands,
    connections: () => connections,
    async close() {
      for (const socket of sockets) socket.destroy();
      for (const data of dataServers) data.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function serve(
  control: Socket,
  options: FtpServerOptions,
  commands: string[],
  sockets: Set<Socket>,
  dataServers: Set<Server>,
): void {
  const reply = (line: string) => {
    if (!control.destroyed) control.write(`${line}\r\n`);
  };
  let user: string | undefined;
  let loggedIn = false;
  let cwd: string[] = [];
  let data: Promise<Socket> | undefined;

  const openPassive = (): Promise<number> =>
    new Promise((resolve) => {
      const listener = createServer();
      dataServers.add(listener);
      data = new Promise<Socket>((accepted) => {
        listener.once("connection", (socket) => {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => undefined);
          listener.close();
          dataServers.delete(listener);
          accepted(socket);
        });
      });
      listener.listen(0, "127.0.0.1", () => {
        const address = listener.address();
        resolve(typeof address === "object" && address !== null ? address.port : 0);
      });
    });

  const inRoot = (segments: string[]) => join(options.root, ...segments);
  const resolvePath = (path: string): string[] | undefined => {
    const joined = normalize(path.startsWith("/") ? path : [...cwd, path].join("/"));
    const segments = joined.split("/").filter((segment) => segment !== "" && segment !== ".");
    return segments.includes("..") ? undefined : segments;
  };

  const handle = async (line: string) => {
    const space = line.indexOf(" ");
    const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
    const arg = space === -1 ? "" : line.slice(space + 1);
    commands.push(verb === "PASS" ? "PASS ***" : line);
    if (!loggedIn && !["USER", "PASS", "FEAT", "AUTH", "QUIT", "OPTS", "SYST", "NOOP"].includes(verb)) {
      return reply("530 Please login with USER and PASS.");
    }
    switch (verb) {
      case "USER":
        user = arg;
        loggedIn = false;
        return reply("331 Password required.");
      case "PASS":
        if (user !== undefined && options.users[user] === arg) {
          loggedIn = true;
          return reply("230 Logged in.");
        }
        return reply("530 Login incorrect.");
      case "FEAT":
        return reply("211-Features:\r\n EPSV\r\n PASV\r\n UTF8\r\n211 End");
      case "SYST":
        return reply("215 UNIX Type: L8");
      case "TYPE":
      case "STRU":
      case "MODE":
      case "OPTS":
      case "NOOP":
        return reply("200 OK.");
      case "PWD":
        return reply(`257 "/${cwd.join("/")}" is the current directory.`);
      case "CWD": {
        const target = resolvePath(arg);
        if (target !== undefined && isFolder(inRoot(target))) {
          cwd = target;
          return reply("250 Directory changed.");
        }
        return reply("550 No such directory.");
      }
      case "EPSV":
        return reply(`229 Entering Extended Passive Mode (|||${await openPassive()}|)`);
      case "PASV": {
        const port = await openPassive();
        return reply(`227 Entering Passive Mode (127,0,0,1,${port >> 8},${port & 255}).`);
      }
      case "STOR": {
        const target = resolvePath(arg);
        const connection = data;
        data = undefined;
        if (connection === undefined) return reply("425 Use PASV or EPSV first.");
        const socket = await connection;
        if (target === undefined || !isFolder(inRoot(target.slice(0, -1)))) {
          socket.destroy();
          return reply("553 No such file name allowed.");
        }
        if ((options.readOnly ?? []).includes(target.slice(0, -1).join("/"))) {
          socket.destroy();
          return reply("550 Permission denied.");
        }
        reply("150 Opening data connection.");
        const chunks: Buffer[] = [];
        socket.on("data", (chunk: Buffer) => chunks.push(chunk));
        socket.on("end", () => {
          writeFileSync(inRoot(target), Buffer.concat(chunks));
          reply("226 Transfer complete.");
        });
        return;
      }
      case "QUIT":
        reply("221 Bye.");
        control.end();
        return;
      default:
        return reply("502 Command not implemented.");
    }
  };

  // One command at a time, in order, as a server reads its control connection.
  let queue = Promise.resolve();
  let buffered = "";
  control.setEncoding("utf8");
  control.on("data", (text: string) => {
    buffered += text;
    for (let end = buffered.indexOf("\r\n"); end !== -1; end = buffered.indexOf("\r\n")) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      queue = queue.then(() => handle(line)).catch(() => reply("451 Local error."));
    }
  });
  reply("220 Baton test FTP server ready.");
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Makes the folders (relative to root) a test uploads into. */
export function makeFolders(root: string, ...folders: string[]): void {
  for (const folder of folders) mkdirSync(join(root, folder), { recursive: true });
}
