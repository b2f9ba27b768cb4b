/**
 * DynamoDB's 400 KB item limit as a domain error. A Put (alone, in a batch or in a transaction)
 * is measured before it is sent; an Update can only be judged by DynamoDB, whose refusal is
 * translated. Either way the caller gets an ItemTooLargeError (413 at the API), never an SDK
 * ValidationException, and DynamoDB Local behaves as AWS does.
 */
import { ItemTooLargeError } from "../core/errors.ts";
import { AWS_LIMITS, dynamoItemBytes } from "./aws-limits.ts";
import type { InstrumentableClient } from "./instrument.ts";

type Item = Record<string, unknown>;

export function enforceItemLimit(client: InstrumentableClient): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      // At the build step the document client has marshalled its input into AttributeValues.
      for (const { table, item } of putsOf(args.input as Record<string, unknown>)) {
        const bytes = dynamoItemBytes(item);
        if (bytes > AWS_LIMITS.dynamoItemBytes) throw tooLarge(table, bytes);
      }
      try {
        return await next(args);
      } catch (error) {
        if (isItemSizeRefusal(error)) {
          throw new ItemTooLargeError(
            "the record would exceed DynamoDB's 400 KB item limit; nothing was written",
            { cause: error },
          );
        }
        throw error;
      }
    },
    { step: "build", name: "batonDynamoItemLimit" },
  );
}

function tooLarge(table: string, bytes: number): ItemTooLargeError {
  return new ItemTooLargeError(
    `the record would be ${bytes} bytes, over DynamoDB's ${AWS_LIMITS.dynamoItemBytes}-byte item limit; nothing was written`,
    { details: { table, bytes, limit: AWS_LIMITS.dynamoItemBytes } },
  );
}

/** Every whole item a request writes: PutItem, BatchWriteItem puts and TransactWriteItems puts. */
function putsOf(input: Record<string, unknown>): Array<{ table: string; item: Item }> {
  const puts: Array<{ table: string; item: Item }> = [];
  if (typeof input.TableName === "string" && isItem(input.Item)) {
    puts.push({ table: input.TableName, item: input.Item });
  }
  for (const entry of (input.TransactItems as Array<{ Put?: { TableName?: string; Item?: unknown } }>) ??
    []) {
    if (isItem(entry.Put?.Item)) puts.push({ table: String(entry.Put?.TableName), item: entry.Put.Item });
  }
  const batches = (input.RequestItems ?? {}) as Record<string, Array<{ PutRequest?: { Item?: unknown } }>>;
  for (const [table, requests] of Object.entries(batches)) {
    if (!Array.isArray(requests)) continue;
    for (const request of requests)
      if (isItem(request.PutRequest?.Item)) puts.push({ table, item: request.PutRequest.Item });
  }
  return puts;
}

function isItem(value: unknown): value is Item {
  return typeof value === "object" && value !== null;
}

/** DynamoDB's own refusal: "Item size has exceeded…" / "Item size to update has exceeded…". */
function isItemSizeRefusal(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const sizeMessage = (text: string | undefined) => /item size/i.test(text ?? "");
  if (error.name === "ValidationException") return sizeMessage(error.message);
  if (error.name === "TransactionCanceledException") {
    const reasons = (error as { CancellationReasons?: Array<{ Code?: string; Message?: string }> })
      .CancellationReasons;
    return (reasons ?? []).some((reason) => reason.Code === "ValidationError" && sizeMessage(reason.Message));
  }
  return false;
}
