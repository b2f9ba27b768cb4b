import { App, type CfnResource, Duration } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import { BatonStack, WORKER_TIMEOUT } from "../../infra/baton-stack.ts";
import { TABLE_ENV } from "../../infra/tables.ts";
import { createTableInput } from "../../local/bootstrap.ts";
import { RUN_QUEUE } from "../../shared/aws/queues.ts";
import { TABLES, type TableName, type TableSchema } from "../../shared/aws/tables.ts";
import { ENV } from "../../shared/config.ts";

const ROOT_HASH = "a".repeat(64);

// Both stacks bundle the same entry; CDK caches the bundle per process, so esbuild runs once.
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

/** Every statement of every inline policy attached to the function's role, as one JSON string. */
function rolePolicies(fn: typeof stack.apiFunction): string {
  const roleId = stack.getLogicalId(fn.role?.node.defaultChild as CfnResource);
  const policies = template.findResources("AWS::IAM::Policy", {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  });
  expect(Object.keys(policies)).not.toHaveLength(0);
  return JSON.stringify(Object.values(policies).map((p) => p.Properties.PolicyDocument.Statement));
}

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
  ] as const)("%s runs the shared bundle on nodejs22.x arm64", (handler, fn, memory, timeout) => {
    expect(resource(logicalId(fn())).Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: `index.${handler}`,
      MemorySize: memory,
      Timeout: timeout,
    });
  });

  it("both get the whole config, named by the shared ENV constants", () => {
    const expected = {
      ...Object.fromEntries(
        (Object.keys(TABLES) as TableName[]).map((name) => [TABLE_ENV[name], ref(stack.tables.tables[name])]),
      ),
      [ENV.runQueueUrl]: ref(stack.runQueue),
      [ENV.leaseSeconds]: Match.stringLikeRegexp("^\\d+$"),
      NODE_OPTIONS: "--enable-source-maps",
    };
    for (const fn of [stack.apiFunction, stack.workerFunction]) {
      const variables = (resource(logicalId(fn)).Properties.Environment as { Variables: object }).Variables;
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
    expect(Object.keys(variables)).toHaveLength(2);
  });

  it("rejects a malformed root key hash or concurrency at synth time", () => {
    expect(() => new BatonStack(new App(), "Bad", { rootKeySha256: "not-a-hash" })).toThrow(/rootKeySha256/);
    expect(() => new BatonStack(new App(), "Bad", { workerConcurrency: 1 })).toThrow(/workerConcurrency/);
  });

  it("keeps a month of logs per function", () => {
    template.resourceCountIs("AWS::Logs::LogGroup", 2);
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    const groups = [stack.apiFunction, stack.workerFunction].map((fn) => {
      const config = resource(logicalId(fn)).Properties.LoggingConfig as { LogGroup: { Ref: string } };
      expect(resource(config.LogGroup.Ref).Type).toBe("AWS::Logs::LogGroup");
      return config.LogGroup.Ref;
    });
    expect(new Set(groups).size).toBe(2);
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
      ]),
    );
  });
});

describe("least privilege", () => {
  const otherTables = (["definitions", "tenants", "keys"] as const).map((name) =>
    logicalId(stack.tables.tables[name]),
  );

  it("the worker reaches the runs table and consumes the queue, nothing more", () => {
    const worker = rolePolicies(stack.workerFunction);
    expect(worker).toContain(logicalId(stack.tables.tables.runs));
    for (const id of otherTables) expect(worker).not.toContain(id);
    expect(worker).not.toContain(logicalId(stack.bucket));
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) {
      expect(worker).toContain(action);
    }
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
    for (const fn of [stack.apiFunction, stack.workerFunction]) {
      expect(rolePolicies(fn)).toContain(JSON.stringify(indexArn));
    }
  });
});
