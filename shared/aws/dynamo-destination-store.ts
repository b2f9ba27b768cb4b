import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import type { DestinationRecord } from "../core/destination.ts";
import { ConflictError } from "../core/errors.ts";
import type { DestinationStore } from "../core/ports.ts";
import { isConditionFailure } from "./clients.ts";
import { queryAll } from "./query-all.ts";

const StoredDestination = z.object({
  tenant: z.string(),
  name: z.string(),
  url: z.string(),
  username: z.string(),
  password: z.string().optional(),
  privateKey: z.string().optional(),
  hostKey: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** Destinations in DynamoDB: partition = tenant, sort = name, so a tenant's list is one Query. */
export class DynamoDestinationStore implements DestinationStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async put(destination: DestinationRecord, replaces: string | undefined): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: destination,
          // Two admins writing at once: one wins, the other is told, rather than silently lost.
          ...(replaces === undefined
            ? { ConditionExpression: "attribute_not_exists(tenant)" }
            : {
                ConditionExpression: "updatedAt = :replaces",
                ExpressionAttributeValues: { ":replaces": replaces },
              }),
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new ConflictError(`destination "${destination.name}" changed meanwhile; send the PUT again`);
      }
      throw error;
    }
  }

  async get(tenant: string, name: string): Promise<DestinationRecord | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: { tenant, name }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : StoredDestination.parse(result.Item);
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    const result = await this.#client.send(
      new DeleteCommand({ TableName: this.#table, Key: { tenant, name }, ReturnValues: "ALL_OLD" }),
    );
    return result.Attributes !== undefined;
  }

  async list(tenant: string): Promise<DestinationRecord[]> {
    const items = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: "tenant = :tenant",
      ExpressionAttributeValues: { ":tenant": tenant },
      // Like get: a destination just PUT is listed (an admin's rare read; the double cost is nothing).
      ConsistentRead: true,
    });
    return items.map((item) => StoredDestination.parse(item));
  }
}
