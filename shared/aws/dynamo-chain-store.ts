import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { AccessGrant, ChainRecord, ChainStore } from "../core/ports.ts";
import { queryAll } from "./query-all.ts";

const StoredChain = z.object({
  tenant: z.string(),
  name: z.string(),
  definition: z.string(),
  description: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const StoredGrant = z.object({
  tenant: z.string(),
  sourceTenant: z.string(),
  chain: z.string(),
  createdAt: z.string(),
});

/** Chain records (by tenant and name) and access grants (held by the target tenant), in two tables. */
export class DynamoChainStore implements ChainStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #chains: string;
  readonly #grants: string;

  constructor(options: { client: DynamoDBDocumentClient; chainsTable: string; grantsTable: string }) {
    this.#client = options.client;
    this.#chains = options.chainsTable;
    this.#grants = options.grantsTable;
  }

  async putChain(chain: ChainRecord): Promise<{ created: boolean }> {
    const result = await this.#client.send(
      new PutCommand({ TableName: this.#chains, Item: chain, ReturnValues: "ALL_OLD" }),
    );
    return { created: result.Attributes === undefined };
  }

  async getChain(tenant: string, name: string): Promise<ChainRecord | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#chains, Key: { tenant, name }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : StoredChain.parse(result.Item);
  }

  async deleteChain(tenant: string, name: string): Promise<boolean> {
    const result = await this.#client.send(
      new DeleteCommand({ TableName: this.#chains, Key: { tenant, name }, ReturnValues: "ALL_OLD" }),
    );
    return result.Attributes !== undefined;
  }

  async listChains(tenant: string): Promise<ChainRecord[]> {
    return (await this.#all(this.#chains, tenant)).map((item) => StoredChain.parse(item));
  }

  async putGrant(grant: AccessGrant): Promise<{ created: boolean }> {
    const result = await this.#client.send(
      new PutCommand({
        TableName: this.#grants,
        Item: { ...grant, grantKey: grantKey(grant.sourceTenant, grant.chain) },
        ReturnValues: "ALL_OLD",
      }),
    );
    return { created: result.Attributes === undefined };
  }

  async hasGrant(tenant: string, sourceTenant: string, chain: string): Promise<boolean> {
    const result = await this.#client.send(
      new GetCommand({
        TableName: this.#grants,
        Key: { tenant, grantKey: grantKey(sourceTenant, chain) },
        ConsistentRead: true,
      }),
    );
    return result.Item !== undefined;
  }

  async deleteGrant(tenant: string, sourceTenant: string, chain: string): Promise<boolean> {
    const result = await this.#client.send(
      new DeleteCommand({
        TableName: this.#grants,
        Key: { tenant, grantKey: grantKey(sourceTenant, chain) },
        ReturnValues: "ALL_OLD",
      }),
    );
    return result.Attributes !== undefined;
  }

  async listGrants(tenant: string): Promise<AccessGrant[]> {
    return (await this.#all(this.#grants, tenant)).map((item) => StoredGrant.parse(item));
  }

  #all(table: string, tenant: string): Promise<Record<string, unknown>[]> {
    return queryAll(this.#client, {
      TableName: table,
      KeyConditionExpression: "tenant = :tenant",
      ExpressionAttributeValues: { ":tenant": tenant },
    });
  }
}

/** Tenant ids and chain names cannot contain '#', so the pair is unambiguous. */
function grantKey(sourceTenant: string, chain: string): string {
  return `${sourceTenant}#${chain}`;
}
