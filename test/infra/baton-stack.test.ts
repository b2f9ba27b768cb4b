import { App, type CfnResource, Duration } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { BatonStack, SWEEPER_TIMEOUT, WORKER_TIMEOUT } from "../../infra/baton-stack.ts";
import { TABLE_ENV } from "../../infra/tables.ts";
import { createTableInput } from "../../local/bootstrap.ts";
import { RUN_QUEUE } from "../../shared/aws/queues.ts";
import { TABLES, type TableName, type TableSchema } from "../../shared/aws/tables.ts";
import { ENV } from "../../shared/config.ts";

const ROOT_HASH = "a".repeat(64);

// Every function of both stacks bundles the same entry; CDK caches the bundle per process, so
// esbuild runs once.
const stack = new BatonStack(new App(), "Baton");
const template = Template.fromStack(stack);
const withRoot = new BatonStack(new App(), "BatonWithRoot", {
  rootKeySha256: ROOT_HASH,
  workerConcurrency: 50,
});
const withRootTemplate = Template.fromStack(withRoot);

const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnResource);
const resource = (id: string) => {
  const found = template.toJSON().Resources[id];
  if (found === undefined) throw new Error(`no resource ${id}`);
  return found as { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
};
const getAtt = (construct: IConstruct, attribute = "Arn") => ({
  "Fn::GetAtt": [logicalId(construct), attribute],
});
const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });

const functions = () => [stack.apiFunction, stack.workerFunction, stack.sweeperFunction];

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of every inline policy attached to the function's role. */
function roleStatements(fn: typeof stack.apiFunction): Statement[] {
  const roleId = stack.getLogicalId(fn.role?.node.defaultChild as CfnResource);
  const policies = template.findResources("AWS::IAM::Policy", {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  expect(Object.keys(policies)).not.toHaveLength(0);
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** The same statements as one JSON string, for "mentions" checks. */
const rolePolicies = (fn: typeof stack.apiFunction): string => JSON.stringify(roleStatements(fn));

/** Every action the function's role allows on a resource whose ARN mentions the logical id. */
function actionsOn(fn: typeof stack.apiFunction, id: string): string[] {
  return roleStatements(fn)
    .filter((statement) => statement.Effect === "Allow" && JSON.stringify(statement.Resource).includes(id))
    .flatMap((statement) => [statement.Action].flat());
}

const DYNAMO_WRITES = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:*",
  "*",
];

describe("run queue", () => {
  it("is FIFO with explicit dedup ids, high-throughput mode and an explicit message size", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      DeduplicationScope: "messageGroup",
      FifoThroughputLimit: "perMessageGroupId",
      MaximumMessageSize: RUN_QUEUE.maximumMessageSizeBytes,
      MessageRetentionPeriod: RUN_QUEUE.retentionSeconds,
      SqsManagedSseEnabled: true,
    });
  });

  it("redrives to a FIFO dead-letter queue after RUN_QUEUE.maxReceiveCount receives", () => {
    const queue = resource(logicalId(stack.runQueue));
    expect(queue.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(stack.deadLetterQueue),
      maxReceiveCount: RUN_QUEUE.maxReceiveCount,
    });
    const dlq = resource(logicalId(stack.deadLetterQueue));
    expect(dlq.Properties.FifoQueue).toBe(true);
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
  });

  it("hides a message for longer than the worker may run", () => {
    const visibility = resource(logicalId(stack.runQueue)).Properties.VisibilityTimeout as number;
    const workerTimeout = resource(logicalId(stack.workerFunction)).Properties.Timeout as number;
    expect(workerTimeout).toBe(WORKER_TIMEOUT.toSeconds());
    expect(visibility).toBeGreaterThan(workerTimeout);
  });

  it("refuses plain-HTTP access", () => {
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [ref(stack.runQueue)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("tables", () => {
  const schemas: Record<TableName, TableSchema> = TABLES;
  const names = Object.keys(TABLES) as TableName[];

  it("builds exactly the tables in shared/aws/tables.ts", () => {
    template.resourceCountIs("AWS::DynamoDB::Table", names.length);
    expect(names).toContain("counters");
  });

  it("counters: keyed by pk alone, on-demand with PITR", () => {
    expect(resource(logicalId(stack.tables.tables.counters)).Properties).toMatchObject({
      KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it("runs: idempotency records expire through TTL on expiresAt", () => {
    expect(resource(logicalId(stack.tables.tables.runs)).Properties.TimeToLiveSpecification).toEqual({
      AttributeName: "expiresAt",
      Enabled: true,
    });
  });

  it.each(names)("%s: TTL exactly as the schema says", (name) => {
    const ttl = resource(logicalId(stack.tables.tables[name])).Properties.TimeToLiveSpecification;
    const attribute = schemas[name].ttlAttribute;
    expect(ttl).toEqual(attribute === undefined ? undefined : { AttributeName: attribute, Enabled: true });
  });

  it.each(names)("%s: on-demand, PITR, AWS-managed encryption, retained", (name) => {
    const table = resource(logicalId(stack.tables.tables[name]));
    expect(table.DeletionPolicy).toBe("Retain");
    expect(table.Properties).toMatchObject({
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      // Enabled without a key of our own means the AWS-managed key (alias/aws/dynamodb).
      SSESpecification: { SSEEnabled: true },
    });
  });

  // The local bootstrap builds its tables from the same description: the two must agree exactly.
  it.each(names)("%s: keys, indexes and attributes match what the local bootstrap creates", (name) => {
    const local = createTableInput(name, schemas[name]);
    const table = resource(logicalId(stack.tables.tables[name])).Properties;
    expect(table.KeySchema).toEqual(local.KeySchema);
    expect(table.GlobalSecondaryIndexes ?? []).toEqual(local.GlobalSecondaryIndexes ?? []);
    const byName = (a: { AttributeName?: string }, b: { AttributeName?: string }) =>
      String(a.AttributeName).localeCompare(String(b.AttributeName));
    expect([...(table.AttributeDefinitions as { AttributeName: string }[])].sort(byName)).toEqual(
      [...(local.AttributeDefinitions ?? [])].sort(byName),
    );
  });
});

describe("files bucket", () => {
  it("blocks public access, encrypts, and is retained", () => {
    template.hasResource("AWS::S3::Bucket", {
      DeletionPolicy: "Retain",
      Properties: {
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
        },
      },
    });
  });

  it("refuses plain-HTTP access", () => {
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("functions", () => {
  it.each([
    ["api", () => stack.apiFunction, 512, 29],
    ["worker", () => stack.workerFunction, 1024, Duration.minutes(15).toSeconds()],
    ["sweeper", () => stack.sweeperFunction, 512, Duration.minutes(5).toSeconds()],
  ] as const)("%s runs the shared bundle on nodejs22.x arm64", (handler, fn, memory, timeout) => {
    expect(resource(logicalId(fn())).Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: `index.${handler}`,
      MemorySize: memory,
      Timeout: timeout,
    });
  });

  it("the sweeper may run for five minutes", () => {
    expect(SWEEPER_TIMEOUT.toSeconds()).toBe(300);
  });

  it("every function gets the whole config, named by the shared ENV constants", () => {
    const expected = {
      ...Object.fromEntries(
        (Object.keys(TABLES) as TableName[]).map((name) => [TABLE_ENV[name], ref(stack.tables.tables[name])]),
      ),
      [ENV.runQueueUrl]: ref(stack.runQueue),
      // Heartbeats every lease/3 = 10 s: how fast a cancel reaches a running handler.
      [ENV.leaseSeconds]: "30",
      NODE_OPTIONS: "--enable-source-maps",
    };
    template.resourceCountIs("AWS::Lambda::Function", 3);
    for (const fn of functions()) {
      const variables = (resource(logicalId(fn)).Properties.Environment as { Variables: object }).Variables;
      // Config parsing requires it: a function without it would fail every cold start.
      expect(variables).toHaveProperty(ENV.countersTable, ref(stack.tables.tables.counters));
      expect(variables).not.toHaveProperty(ENV.rootKeySha256);
      expect(variables).not.toHaveProperty(ENV.rootKey);
      template.hasResourceProperties("AWS::Lambda::Function", {
        Handler: resource(logicalId(fn)).Properties.Handler,
        Environment: { Variables: expected },
      });
    }
  });

  it("passes the root key hash only when given, never the key", () => {
    const variables = withRootTemplate.findResources("AWS::Lambda::Function", {
      Properties: { Environment: { Variables: { [ENV.rootKeySha256]: ROOT_HASH } } },
    });
    expect(Object.keys(variables)).toHaveLength(3);
  });

  it("rejects a malformed root key hash or concurrency at synth time", () => {
    expect(() => new BatonStack(new App(), "Bad", { rootKeySha256: "not-a-hash" })).toThrow(/rootKeySha256/);
    expect(() => new BatonStack(new App(), "Bad", { workerConcurrency: 1 })).toThrow(/workerConcurrency/);
  });

  it("keeps a month of logs per function", () => {
    template.resourceCountIs("AWS::Logs::LogGroup", 3);
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    const groups = functions().map((fn) => {
      const config = resource(logicalId(fn)).Properties.LoggingConfig as { LogGroup: { Ref: string } };
      expect(resource(config.LogGroup.Ref).Type).toBe("AWS::Logs::LogGroup");
      return config.LogGroup.Ref;
    });
    expect(new Set(groups).size).toBe(3);
  });
});

describe("sweeper schedule", () => {
  it("invokes the sweeper every minute, without retries (the next minute is the retry)", () => {
    template.resourceCountIs("AWS::Events::Rule", 1);
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({ Arn: getAtt(stack.sweeperFunction), RetryPolicy: { MaximumRetryAttempts: 0 } }),
      ],
    });
  });

  it("lets only that rule invoke the sweeper", () => {
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: getAtt(stack.sweeperFunction),
      Principal: "events.amazonaws.com",
      SourceArn: getAtt(stack.sweepRule),
    });
  });

  it("is not fed by the queue and has no reserved concurrency (sweeps may overlap safely)", () => {
    template.resourcePropertiesCountIs(
      "AWS::Lambda::EventSourceMapping",
      { FunctionName: ref(stack.sweeperFunction) },
      0,
    );
    expect(
      resource(logicalId(stack.sweeperFunction)).Properties.ReservedConcurrentExecutions,
    ).toBeUndefined();
  });
});

describe("worker event source", () => {
  it("takes batches of 10 from the run queue and reports partial failures", () => {
    template.resourceCountIs("AWS::Lambda::EventSourceMapping", 1);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(stack.runQueue),
      FunctionName: ref(stack.workerFunction),
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("caps concurrency only when asked", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", { ScalingConfig: Match.absent() });
    withRootTemplate.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      ScalingConfig: { MaximumConcurrency: 50 },
    });
  });
});

describe("HTTP API", () => {
  it("sends every request to the api Lambda, which routes and authenticates itself", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Api", { ProtocolType: "HTTP" });
    const integrations = template.findResources("AWS::ApiGatewayV2::Integration", {
      Properties: {
        IntegrationType: "AWS_PROXY",
        IntegrationUri: getAtt(stack.apiFunction),
        PayloadFormatVersion: "2.0",
      },
    });
    const [integrationId] = Object.keys(integrations);
    expect(integrationId).toBeDefined();
    template.hasResourceProperties("AWS::ApiGatewayV2::Route", {
      RouteKey: "$default",
      AuthorizationType: "NONE",
      Target: { "Fn::Join": ["", ["integrations/", { Ref: integrationId }]] },
    });
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: getAtt(stack.apiFunction),
      Principal: "apigateway.amazonaws.com",
    });
  });

  it("publishes the URLs and names a client or operator needs", () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    expect(outputs).toEqual(
      expect.arrayContaining([
        "ApiUrl",
        "RunQueueUrl",
        "RunDeadLetterQueueUrl",
        "FilesBucketName",
        "RunsTableName",
        "DefinitionsTableName",
        "TenantsTableName",
        "KeysTableName",
        "CountersTableName",
      ]),
    );
  });
});

describe("least privilege", () => {
  const table = (name: TableName) => logicalId(stack.tables.tables[name]);
  const identityTables = (["tenants", "keys"] as const).map(table);

  it.each([
    ["worker", () => stack.workerFunction],
    ["sweeper", () => stack.sweeperFunction],
  ] as const)(
    "the %s writes runs and counters, only reads definitions, never touches identities",
    (_, fn) => {
      const policies = rolePolicies(fn());
      for (const name of ["runs", "counters"] as const) {
        expect(actionsOn(fn(), table(name))).toEqual(
          expect.arrayContaining(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
        );
      }
      const definitions = actionsOn(fn(), table("definitions"));
      expect(definitions).toEqual(expect.arrayContaining(["dynamodb:GetItem", "dynamodb:Query"]));
      for (const action of DYNAMO_WRITES) expect(definitions).not.toContain(action);
      for (const id of identityTables) expect(policies).not.toContain(id);
      expect(policies).not.toContain(logicalId(stack.bucket));
      expect(actionsOn(fn(), logicalId(stack.runQueue))).toContain("sqs:SendMessage");
    },
  );

  it("the worker consumes the queue (ChangeMessageVisibility for lease heartbeats)", () => {
    const worker = actionsOn(stack.workerFunction, logicalId(stack.runQueue));
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) {
      expect(worker).toContain(action);
    }
  });

  it("the sweeper sends to the queue but never consumes it", () => {
    const sweeper = rolePolicies(stack.sweeperFunction);
    for (const action of [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:*",
    ]) {
      expect(sweeper).not.toContain(action);
    }
  });

  it("the api writes admission counters (starts reserve a slot in their transaction)", () => {
    expect(actionsOn(stack.apiFunction, table("counters"))).toEqual(
      expect.arrayContaining(["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"]),
    );
  });

  it("the api reaches every table and may send to the queue but not consume it", () => {
    const api = rolePolicies(stack.apiFunction);
    for (const name of Object.keys(TABLES) as TableName[]) {
      expect(api).toContain(logicalId(stack.tables.tables[name]));
    }
    expect(api).toContain("sqs:SendMessage");
    expect(api).not.toContain("sqs:ReceiveMessage");
    expect(api).not.toContain("sqs:DeleteMessage");
    template.hasResourceProperties("AWS::IAM::Policy", {
      Roles: [{ Ref: stack.getLogicalId(stack.apiFunction.role?.node.defaultChild as CfnResource) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(["sqs:SendMessage"]),
            Resource: getAtt(stack.runQueue),
          }),
        ]),
      },
    });
  });

  it("table grants cover the indexes, which queries need", () => {
    const runs = logicalId(stack.tables.tables.runs);
    const indexArn = { "Fn::Join": ["", [{ "Fn::GetAtt": [runs, "Arn"] }, "/index/*"]] };
    for (const fn of functions()) {
      expect(rolePolicies(fn)).toContain(JSON.stringify(indexArn));
    }
    // The api deletes a tenant's keys through the keys table's byTenant index.
    const keys = table("keys");
    expect(rolePolicies(stack.apiFunction)).toContain(
      JSON.stringify({ "Fn::Join": ["", [{ "Fn::GetAtt": [keys, "Arn"] }, "/index/*"]] }),
    );
  });
});
