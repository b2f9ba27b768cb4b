import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { ConflictError } from "../core/errors.ts";
import type { TenantStore } from "../core/ports.ts";
import { ApiKeyRecord, Tenant } from "../core/tenant.ts";
import { isConditionFailure } from "./clients.ts";

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
