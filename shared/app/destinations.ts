/**
 * Upload destinations, as tenant admins manage them: the credentials are sealed on the way in
 * and never come out again (uploads.ts opens them in the worker, at upload time).
 */
import { isIP } from "node:net";
import ssh2 from "ssh2";
import {
  type CredentialKind,
  type DestinationRecord,
  formatDestinationUrl,
  isPublicAddress,
  parseDestinationUrl,
} from "../core/destination.ts";
import { NotFoundError, ValidationError } from "../core/errors.ts";
import type { CredentialSealContext } from "../core/sealed.ts";
import type { Services } from "./services.ts";

export interface DestinationInput {
  url: string;
  username: string;
  password?: string;
  privateKey?: string;
  hostKey?: string;
}

/** Creates or replaces a destination. Credentials are whole on every PUT: what is not sent is not kept. */
export async function putDestination(
  svc: Services,
  tenant: string,
  name: string,
  input: DestinationInput,
): Promise<{ destination: DestinationRecord; created: boolean }> {
  const address = parseDestinationUrl(input.url);
  const invalid = (path: string, message: string) =>
    new ValidationError(`${path} ${message}`, { details: [{ path, message }] });
  if (address.protocol === "sftp") {
    if (input.password === undefined && input.privateKey === undefined) {
      throw invalid("password", "or privateKey is needed for an SFTP destination");
    }
  } else {
    if (input.privateKey !== undefined) throw invalid("privateKey", "is for SFTP destinations only");
    if (input.hostKey !== undefined) throw invalid("hostKey", "is for SFTP destinations only");
  }
  if (input.privateKey !== undefined) {
    // Said here rather than at the first upload; ssh2's message names the problem, never the key.
    const parsed = ssh2.utils.parseKey(input.privateKey);
    if (parsed instanceof Error) {
      throw invalid(
        "privateKey",
        `cannot be read (${parsed.message}); keys with a passphrase are not supported`,
      );
    }
  }
  if (!svc.uploads.allowPrivateAddresses && isIP(address.host) !== 0 && !isPublicAddress(address.host)) {
    throw invalid("url", `host ${address.host} is not a public address`);
  }

  const previous = await svc.destinations.get(tenant, name);
  const now = svc.clock.now().toISOString();
  const seal = (credential: CredentialKind, value: string | undefined) => {
    if (value === undefined) return Promise.resolve(undefined);
    const context: CredentialSealContext = { tenant, destination: name, credential };
    return svc.crypto.seal(value, context);
  };
  const [password, privateKey] = await Promise.all([
    seal("password", input.password),
    seal("privateKey", input.privateKey),
  ]);
  const destination: DestinationRecord = {
    tenant,
    name,
    url: formatDestinationUrl(address),
    username: input.username,
    ...(password === undefined ? {} : { password }),
    ...(privateKey === undefined ? {} : { privateKey }),
    ...(input.hostKey === undefined ? {} : { hostKey: input.hostKey.replace(/=$/, "") }),
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
  };
  await svc.destinations.put(destination, previous?.updatedAt);
  return { destination, created: previous === undefined };
}

export async function getDestination(
  svc: Services,
  tenant: string,
  name: string,
): Promise<DestinationRecord> {
  const destination = await svc.destinations.get(tenant, name);
  if (destination === undefined) throw new NotFoundError(`destination "${name}" does not exist`);
  return destination;
}

export async function listDestinations(svc: Services, tenant: string): Promise<DestinationRecord[]> {
  return svc.destinations.list(tenant);
}

export async function deleteDestination(svc: Services, tenant: string, name: string): Promise<void> {
  if (!(await svc.destinations.delete(tenant, name))) {
    throw new NotFoundError(`destination "${name}" does not exist`);
  }
}
