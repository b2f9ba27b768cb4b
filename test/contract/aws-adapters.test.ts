/** The AWS adapters against the emulators: DynamoDB Local and fauxqs. */

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { inject } from "vitest";
import { ensureRunQueue, ensureTables, tableNames } from "../../local/bootstrap.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { createAwsClients } from "../../shared/aws/clients.ts";
import { DynamoCounterStore } from "../../shared/aws/dynamo-counter-store.ts";
import { DynamoDefinitionStore } from "../../shared/aws/dynamo-definition-store.ts";
import { DynamoDestinationStore } from "../../shared/aws/dynamo-destination-store.ts";
import { DynamoRunStore } from "../../shared/aws/dynamo-run-store.ts";
import { DynamoTenantStore } from "../../shared/aws/dynamo-tenant-store.ts";
import { SqsRunQueue } from "../../shared/aws/sqs-run-queue.ts";
import { uniquePrefix } from "../support/stack.ts";
import { admissionStoreContract } from "./admission-store.contract.ts";
import { definitionStoreContract } from "./definition-store.contract.ts";
import { destinationStoreContract } from "./destination-store.contract.ts";
import { runQueueContract } from "./run-queue.contract.ts";
import { runStoreContract } from "./run-store.contract.ts";
import { tenantStoreContract } from "./tenant-store.contract.ts";

const endpoints = inject("endpoints");
const clients = createAwsClients({ region: LOCAL_REGION, endpoints, credentials: LOCAL_CREDENTIALS });
const rawDynamo = new DynamoDBClient({
  region: LOCAL_REGION,
  endpoint: endpoints.dynamodb,
  credentials: LOCAL_CREDENTIALS,
});

/** Fresh tables for every test: no state leaks between them. */
async function freshTables() {
  const names = tableNames(uniquePrefix());
  await ensureTables(rawDynamo, names);
  return names;
}

runStoreContract("DynamoRunStore", async () => {
  const names = await freshTables();
  return new DynamoRunStore({ client: clients.dynamo, tableName: names.runs, countersTable: names.counters });
});

admissionStoreContract("DynamoRunStore + DynamoCounterStore", async () => {
  const names = await freshTables();
  return {
    runs: new DynamoRunStore({
      client: clients.dynamo,
      tableName: names.runs,
      countersTable: names.counters,
    }),
    counters: new DynamoCounterStore({ client: clients.dynamo, tableName: names.counters }),
  };
});

definitionStoreContract("DynamoDefinitionStore", async () => {
  const names = await freshTables();
  return new DynamoDefinitionStore({ client: clients.dynamo, tableName: names.definitions });
});

destinationStoreContract("DynamoDestinationStore", async () => {
  const names = await freshTables();
  return new DynamoDestinationStore({ client: clients.dynamo, tableName: names.destinations });
});

tenantStoreContract("DynamoTenantStore", async () => {
  const names = await freshTables();
  return new DynamoTenantStore({
    client: clients.dynamo,
    tenantsTable: names.tenants,
    keysTable: names.keys,
  });
});

runQueueContract("SqsRunQueue", async () => {
  const queueUrl = await ensureRunQueue(clients.sqs, {
    name: `${uniquePrefix()}runs`,
    visibilityTimeoutSeconds: 30,
  });
  return {
    queue: new SqsRunQueue({ client: clients.sqs, queueUrl }),
    async receive(waitSeconds = 1) {
      const result = await clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ["MessageGroupId"],
        }),
      );
      return (result.Messages ?? []).map((m) => ({
        body: m.Body ?? "",
        groupId: m.Attributes?.MessageGroupId,
        receiptHandle: m.ReceiptHandle ?? "",
      }));
    },
    async remove(receiptHandle) {
      await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle }));
    },
  };
});
