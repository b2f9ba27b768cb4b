import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from "@aws-sdk/lib-dynamodb";
import { z } from "zod";
import { TaskDefinition } from "../core/definition.ts";
import { fitBytes } from "../core/limits.ts";
import type { DefinitionStore, Page } from "../core/ports.ts";
import { decodeCursor, encodeCursor } from "./cursor.ts";
import { fromJsonAttribute, toJsonAttribute } from "./json-attributes.ts";

/** Definitions in DynamoDB: partition = tenant, sort = name, so a tenant's list is one Query. */
export class DynamoDefinitionStore implements DefinitionStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;

  constructor(options: { client: DynamoDBDocumentClient; tableName: string }) {
    this.#client = options.client;
    this.#table = options.tableName;
  }

  async put(definition: TaskDefinition): Promise<{ created: boolean }> {
    const result = await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...definition, params: toJsonAttribute(definition.params) },
        ReturnValues: "ALL_OLD",
      }),
    );
    return { created: result.Attributes === undefined };
  }

  async get(tenant: string, name: string): Promise<TaskDefinition | undefined> {
    const result = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: { tenant, name }, ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : fromItem(result.Item);
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    const result = await this.#client.send(
      new DeleteCommand({ TableName: this.#table, Key: { tenant, name }, ReturnValues: "ALL_OLD" }),
    );
    return result.Attributes !== undefined;
  }

  async list(
    tenant: string,
    page: { limit: number; cursor?: string; maxBytes?: number },
  ): Promise<Page<TaskDefinition>> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, DefinitionCursor);
    const result = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: "tenant = :tenant",
        ExpressionAttributeValues: { ":tenant": tenant },
        Limit: page.limit,
        ...(after === undefined ? {} : { ExclusiveStartKey: { tenant, name: after.name } }),
      }),
    );
    const found = (result.Items ?? []).map(fromItem);
    const kept = fitBytes(found, page.maxBytes);
    // Cut short by size: the next page starts after the last definition kept.
    const last = kept.length < found.length ? { name: kept[kept.length - 1]?.name } : result.LastEvaluatedKey;
    return {
      items: kept,
      ...(last === undefined ? {} : { cursor: encodeCursor({ name: String(last.name) }) }),
    };
  }
}

const DefinitionCursor = z.object({ name: z.string().max(64) });

function fromItem(item: Record<string, unknown>): TaskDefinition {
  return TaskDefinition.parse({ ...item, params: fromJsonAttribute(item.params) });
}
