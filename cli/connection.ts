/** Where the API is and which key to use: flags, then the environment, then `npm run dev`'s files. */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BatonClient } from "../shared/client/index.ts";
import { UsageError } from "./exit-codes.ts";

/** `npm run dev` binds 127.0.0.1 (IPv4 only), so that, not localhost (maybe ::1), is the default. */
export const DEFAULT_URL = "http://127.0.0.1:3000";

export interface ConnectionFlags {
  url?: string;
  key?: string;
}

export interface Environment {
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** The dev tenant's admin key that `npm run dev` / `baton dev` keeps in its data folder. */
export function devKeyPath({ env, cwd }: Environment): string {
  return join(resolve(cwd, env.BATON_DATA_DIR || ".baton"), "dev-key");
}

export function resolveUrl(flags: ConnectionFlags, { env }: Environment): string {
  return flags.url || env.BATON_URL || DEFAULT_URL;
}

export function resolveKey(flags: ConnectionFlags, environment: Environment): string | undefined {
  if (flags.key) return flags.key;
  if (environment.env.BATON_KEY) return environment.env.BATON_KEY;
  const path = devKeyPath(environment);
  if (!existsSync(path)) return undefined;
  return readFileSync(path, "utf8").trim() || undefined;
}

/** A client for the command; `needsKey: false` for requests that carry their own credential. */
export function clientFor(
  flags: ConnectionFlags,
  environment: Environment,
  options: { needsKey?: boolean } = {},
): BatonClient {
  const url = resolveUrl(flags, environment);
  const key = resolveKey(flags, environment);
  if (key === undefined && options.needsKey !== false) {
    throw new UsageError(
      `no API key: pass --key, set BATON_KEY, or start \`baton dev\` here (its key is read from ${devKeyPath(environment)})`,
    );
  }
  try {
    return new BatonClient({ url, ...(key === undefined ? {} : { key }) });
  } catch (error) {
    throw new UsageError(`--url/BATON_URL: ${(error as Error).message}`);
  }
}
