import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { ConflictError } from "../core/errors.ts";
import type { TenantStore } from "../core/ports.ts";
import { ApiKeyRecord, Tenant, type TenantLimits } from "../core/tenant.ts";
import { isConditionFailure } from "./clients.ts";
import { queryAll } from "./query-all.ts";

/** Tenants (by id) and their API keys (by key hash), in two tables. */
export class DynamoTenantStore implements TenantStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tenantsTable: string;
  readonly #keysTable: string;

  constructor(options: { client: DynamoDBDocumentClient; tenantsTable: string; keysTable: string }) {
    this.#client = options.client;
    this.#tenantsTable = options.tenantsTable;
    this.#keysTable = options.keysTable;
  }

  async createTenant(tenant: Tenant): Promise<void> {
    await this.#putNew(this.#tenantsTable, tenant, "id", `tenant "${tenant.id}" already exists`);
  }

  async getTenant(id: string): Promise<Tenant | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#tenantsTable, Key: { id }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : Tenant.parse(result.Item);
  }

  async setLimits(id: string, limits: TenantLimits): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tenantsTable,
          Key: { id },
          UpdateExpression: "SET #limits = :limits",
          ConditionExpression: "attribute_exists(id)",
          ExpressionAttributeNames: { "#limits": "limits" },
          ExpressionAttributeValues: { ":limits": limits },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async putKey(key: ApiKeyRecord): Promise<void> {
    await this.#putNew(this.#keysTable, key, "keyHash", "that key already exists");
  }

  async getKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    // Strongly consistent: a key created a moment ago works at once (and, later, a revoked one stops).
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#keysTable, Key: { keyHash }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : ApiKeyRecord.parse(result.Item);
  }

  async listKeys(tenant: string): Promise<ApiKeyRecord[]> {
    const items = await queryAll(this.#client, {
      TableName: this.#keysTable,
      IndexName: "byTenant",
      KeyConditionExpression: "tenant = :tenant",
      ExpressionAttributeValues: { ":tenant": tenant },
    });
    return items.map((item) => ApiKeyRecord.parse(item));
  }

  async deleteKey(tenant: string, keyId: string): Promise<boolean> {
    // The index is eventually consistent: a key created a moment ago may not show yet, and a
    // repeated delete may still see a deleted one; the conditional delete settles both.
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#keysTable,
        IndexName: "byTenant",
        KeyConditionExpression: "tenant = :tenant AND keyId = :keyId",
        ExpressionAttributeValues: { ":tenant": tenant, ":keyId": keyId },
      }),
    );
    let deleted = false;
    for (const item of page.Items ?? []) {
      try {
        await this.#client.send(
          new DeleteCommand({
            TableName: this.#keysTable,
            Key: { keyHash: item.keyHash },
            ConditionExpression: "tenant = :tenant",
            ExpressionAttributeValues: { ":tenant": tenant },
          }),
        );
        deleted = true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    }
    return deleted;
  }

  async #putNew(table: string, item: Record<string, unknown>, keyAttribute: string, conflict: string) {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: table,
          Item: item,
          ConditionExpression: "attribute_not_exists(#key)",
          ExpressionAttributeNames: { "#key": keyAttribute },
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) throw new ConflictError(conflict, { cause: error });
      throw error;
    }
  }
}
