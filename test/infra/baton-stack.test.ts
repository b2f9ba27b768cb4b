import { ArnFormat, type CfnResource, Duration, RemovalPolicy } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import { describe, expect, it } from "vitest";
import {
  BATON_DEFAULTS,
  BatonStack,
  PAYLOAD_RUN_HORIZON_DAYS,
  physicalName,
  SWEEPER_TIMEOUT,
  TRIGGER_TIMEOUT,
  WORKER_TIMEOUT,
} from "../../infra/baton-stack.ts";
import { TABLE_ENV } from "../../infra/tables.ts";
import { createTableInput } from "../../local/bootstrap.ts";
import { RUN_QUEUE } from "../../shared/aws/queues.ts";
import { TABLES, type TableName, type TableSchema } from "../../shared/aws/tables.ts";
import { ENV } from "../../shared/config.ts";
import { testApp } from "../support/cdk.ts";

const ROOT_HASH = "a".repeat(64);

// Every function of both stacks bundles the same entry; CDK caches the bundle per process, so
// esbuild runs once.
const stack = new BatonStack(testApp(), "Baton");
const template = Template.fromStack(stack);
const withRoot = new BatonStack(testApp(), "BatonWithRoot", {
  rootKeySha256: ROOT_HASH,
  workerMaxConcurrency: 50,
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

const functions = () => [
  stack.apiFunction,
  stack.workerFunction,
  stack.sweeperFunction,
  stack.triggerFunction,
];

/** The trigger's ARN as the stack computes it from the trigger's fixed name. */
const triggerArn = stack.resolve(
  stack.formatArn({
    service: "lambda",
    resource: "function",
    resourceName: "Baton-trigger",
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  }),
);
/** The function's asynchronous invocation settings (AWS::Lambda::EventInvokeConfig), if any. */
function asyncConfigOf(fn: typeof stack.apiFunction): Record<string, unknown> | undefined {
  const configs = Object.values(
    template.findResources("AWS::Lambda::EventInvokeConfig", {
      Properties: { FunctionName: ref(fn) },
    }),
  );
  expect(configs.length).toBeLessThanOrEqual(1);
  const { FunctionName: _name, Qualifier: _qualifier, ...settings } = configs[0]?.Properties ?? {};
  return configs[0] === undefined ? undefined : settings;
}
const roleId = (construct: IConstruct) =>
  stack.getLogicalId((construct as typeof stack.apiFunction).role?.node.defaultChild as CfnResource);

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of every inline policy attached to the function's role. */
function roleStatements(fn: typeof stack.apiFunction): Statement[] {
  return statementsOfRole(roleId(fn));
}

/**
 * Every statement of every policy attached to the role with this logical id: its inline policies
 * and the managed "overflow" policies CDK adds when an inline one would pass IAM's size limit.
 */
function statementsOfRole(id: string): Statement[] {
  const attached = { Properties: { Roles: Match.arrayWith([{ Ref: id }]) } };
  const policies = {
    ...template.findResources("AWS::IAM::Policy", attached),
    ...template.findResources("AWS::IAM::ManagedPolicy", attached),
  };
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

/** Every action of the function's role that mentions the scheduler or IAM. */
const schedulerAndIamActions = (fn: typeof stack.apiFunction): string[] =>
  roleStatements(fn)
    .flatMap((statement) => [statement.Action].flat())
    .filter((action) => action.startsWith("scheduler:") || action.startsWith("iam:") || action === "*");

/** Whether an IAM action pattern (with * and ? wildcards) covers the action. */
const covers = (pattern: string, action: string): boolean =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`,
    "i",
  ).test(action);

/** The ARN of every object in the files bucket, as the template spells it. */
const bucketObjects = () => stack.resolve(stack.bucket.arnForObjects("*"));
/** The ARN of every object in the payloads bucket (claim check), as the template spells it. */
const payloadObjects = () => stack.resolve(stack.payloadsBucket.arnForObjects("*"));

/** Whether the function's role allows the action on the resource (given as template JSON). */
function allows(fn: typeof stack.apiFunction, action: string, target: unknown): boolean {
  const wanted = JSON.stringify(target);
  return roleStatements(fn).some(
    (statement) =>
      statement.Effect === "Allow" &&
      [statement.Action].flat().some((pattern) => covers(pattern, action)) &&
      [statement.Resource].flat().some((resource) => resource === "*" || JSON.stringify(resource) === wanted),
  );
}

/** Every action of the function's role on the files bucket or its objects, or on everything. */
const bucketActions = (fn: typeof stack.apiFunction): string[] =>
  roleStatements(fn)
    .filter(
      (statement) =>
        statement.Effect === "Allow" &&
        [statement.Resource]
          .flat()
          .some((resource) => resource === "*" || JSON.stringify(resource).includes(logicalId(stack.bucket))),
    )
    .flatMap((statement) => [statement.Action].flat());

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
    expect([...names].sort()).toEqual(
      ["chains", "counters", "definitions", "destinations", "grants", "keys", "runs", "tenants"].sort(),
    );
  });

  it.each(names)("%s: key schema exactly as the schema says", (name) => {
    const { partitionKey, sortKey } = schemas[name];
    expect(resource(logicalId(stack.tables.tables[name])).Properties.KeySchema).toEqual([
      { AttributeName: partitionKey, KeyType: "HASH" },
      ...(sortKey === undefined ? [] : [{ AttributeName: sortKey, KeyType: "RANGE" }]),
    ]);
  });

  it.each([
    ["chains", "tenant", "name"],
    ["grants", "tenant", "grantKey"],
  ] as const)("%s: keyed by %s and %s, on-demand with PITR, no indexes", (name, pk, sk) => {
    expect(TABLES[name]).toMatchObject({ partitionKey: pk, sortKey: sk });
    const table = resource(logicalId(stack.tables.tables[name]));
    expect(table.DeletionPolicy).toBe("Retain");
    expect(table.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: pk, KeyType: "HASH" },
        { AttributeName: sk, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
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

describe("payloads bucket (claim check)", () => {
  const payloads = () => resource(logicalId(stack.payloadsBucket));

  it("blocks public access, encrypts, and is retained", () => {
    expect(payloads()).toMatchObject({
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

  it("expires objects after any run that may point to them: the longest unfinished run, then the retention", () => {
    expect(PAYLOAD_RUN_HORIZON_DAYS).toBe(535);
    expect(payloads().Properties.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: "expire-after-runs",
          Status: "Enabled",
          ExpirationInDays: BATON_DEFAULTS.retentionDays + PAYLOAD_RUN_HORIZON_DAYS,
        },
      ],
    });
    const shortLived = Template.fromStack(new BatonStack(testApp(), "ShortPayloads", { retentionDays: 7 }));
    shortLived.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ ExpirationInDays: 7 + PAYLOAD_RUN_HORIZON_DAYS })],
      },
    });
  });

  it("every function puts and gets payload objects, and none may list or delete them", () => {
    for (const fn of functions()) {
      for (const action of ["s3:PutObject", "s3:GetObject"]) {
        expect(allows(fn, action, payloadObjects()), `${fn.node.id} ${action}`).toBe(true);
      }
      for (const action of ["s3:DeleteObject", "s3:PutObjectAcl"]) {
        expect(allows(fn, action, payloadObjects()), `${fn.node.id} ${action}`).toBe(false);
      }
      const onBucket = roleStatements(fn).filter((statement) =>
        JSON.stringify(statement.Resource).includes(logicalId(stack.payloadsBucket)),
      );
      expect(onBucket.flatMap((statement) => [statement.Resource].flat())).toEqual([payloadObjects()]);
    }
  });

  it("the events function reads payload objects (a stream of a claim-checked run) and writes none", () => {
    expect(allows(stack.eventsFunction, "s3:GetObject", payloadObjects())).toBe(true);
    for (const action of ["s3:PutObject", "s3:DeleteObject"])
      expect(allows(stack.eventsFunction, action, payloadObjects()), action).toBe(false);
  });
});

describe("params key", () => {
  it("is one customer-managed symmetric key with rotation on, retained with the stack gone", () => {
    template.resourceCountIs("AWS::KMS::Key", 1);
    const key = resource(logicalId(stack.paramsKey)) as ReturnType<typeof resource> & {
      UpdateReplacePolicy?: string;
    };
    expect(key.Type).toBe("AWS::KMS::Key");
    // Sealed values stored in runs and chains must stay readable.
    expect(key.DeletionPolicy).toBe("Retain");
    expect(key.UpdateReplacePolicy).toBe("Retain");
    expect(key.Properties).toMatchObject({ EnableKeyRotation: true });
    expect(key.Properties.Description).toEqual(expect.any(String));
    // GenerateDataKey needs a symmetric encryption key (the default spec and usage).
    expect(key.Properties.KeySpec ?? "SYMMETRIC_DEFAULT").toBe("SYMMETRIC_DEFAULT");
    expect(key.Properties.KeyUsage ?? "ENCRYPT_DECRYPT").toBe("ENCRYPT_DECRYPT");
  });

  it("has an alias named after the stack", () => {
    template.resourceCountIs("AWS::KMS::Alias", 1);
    template.hasResourceProperties("AWS::KMS::Alias", {
      AliasName: "alias/Baton-params",
      TargetKeyId: getAtt(stack.paramsKey),
    });
  });

  it("is published as ParamsKeyArn", () => {
    expect(template.toJSON().Outputs.ParamsKeyArn.Value).toEqual(getAtt(stack.paramsKey));
  });

  it("its key policy trusts only the account root (CDK's default), which lets IAM grant access", () => {
    const statements = (
      resource(logicalId(stack.paramsKey)).Properties.KeyPolicy as { Statement: Statement[] }
    ).Statement as (Statement & { Principal?: unknown })[];
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({
      Effect: "Allow",
      Principal: {
        AWS: {
          "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::", { Ref: "AWS::AccountId" }, ":root"]],
        },
      },
    });
  });
});

describe("functions", () => {
  it.each([
    ["api", () => stack.apiFunction, 512, 29],
    ["worker", () => stack.workerFunction, 1024, Duration.minutes(15).toSeconds()],
    ["sweeper", () => stack.sweeperFunction, 512, Duration.minutes(5).toSeconds()],
    ["trigger", () => stack.triggerFunction, 512, Duration.minutes(1).toSeconds()],
  ] as const)("%s runs the shared bundle on nodejs22.x arm64", (handler, fn, memory, timeout) => {
    expect(resource(logicalId(fn())).Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Architectures: ["arm64"],
      Handler: `index.${handler}`,
      MemorySize: memory,
      Timeout: timeout,
    });
  });

  it("an update deploys the worker before every function that starts runs (a start sends before it writes)", () => {
    const functions = template.findResources("AWS::Lambda::Function") as Record<
      string,
      { DependsOn?: string[] }
    >;
    const worker = logicalId(stack.workerFunction);
    for (const starter of [stack.apiFunction, stack.triggerFunction, stack.sweeperFunction]) {
      expect(functions[logicalId(starter)]?.DependsOn).toContain(worker);
    }
    expect(functions[worker]?.DependsOn ?? []).not.toContain(logicalId(stack.apiFunction));
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
      // Delayed starts: all four or none, or the config refuses to load.
      [ENV.delayQueueUrl]: ref(stack.delayQueue),
      [ENV.scheduleGroup]: "Baton-baton",
      [ENV.triggerArn]: triggerArn,
      [ENV.schedulerRoleArn]: getAtt(stack.schedulerRole),
      // Where Scheduler puts a firing it gave up on.
      [ENV.scheduleDeadLetterArn]: getAtt(stack.scheduleDeadLetterQueue),
      // Task files: the config requires the bucket name in every function.
      [ENV.filesBucket]: ref(stack.bucket),
      // Claim-checked params and output: without it they could not pass DynamoDB's item limit.
      [ENV.payloadsBucket]: ref(stack.payloadsBucket),
      // Heartbeats every lease/3 = 10 s: how fast a cancel reaches a running handler.
      [ENV.leaseSeconds]: "30",
      // Sealed chain params: without it the functions refuse encrypted params.
      [ENV.kmsKeyId]: getAtt(stack.paramsKey),
      // Ended runs expire after the retention; metrics and logs name the stack.
      [ENV.runRetentionDays]: "90",
      [ENV.serviceName]: "Baton",
      NODE_OPTIONS: "--enable-source-maps",
    };
    // The four of functions() and the events function (its own tests: baton-construct.test.ts).
    template.resourceCountIs("AWS::Lambda::Function", 5);
    for (const fn of functions()) {
      const variables = (resource(logicalId(fn)).Properties.Environment as { Variables: object }).Variables;
      // Config parsing requires it: a function without it would fail every cold start.
      expect(variables).toHaveProperty(ENV.countersTable, ref(stack.tables.tables.counters));
      // Chain hand-offs: the config requires both names too.
      expect(variables).toHaveProperty("BATON_CHAINS_TABLE", ref(stack.tables.tables.chains));
      expect(variables).toHaveProperty("BATON_GRANTS_TABLE", ref(stack.tables.tables.grants));
      expect(variables).toHaveProperty(ENV.filesBucket, ref(stack.bucket));
      expect(variables).toHaveProperty(ENV.payloadsBucket, ref(stack.payloadsBucket));
      expect(variables).toHaveProperty(ENV.kmsKeyId, getAtt(stack.paramsKey));
      expect(variables).not.toHaveProperty(ENV.fileTokenSecret);
      for (const name of [
        ENV.delayQueueUrl,
        ENV.scheduleGroup,
        ENV.triggerArn,
        ENV.schedulerRoleArn,
        ENV.scheduleDeadLetterArn,
      ]) {
        expect(variables).toHaveProperty(name, expected[name]);
      }
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
    expect(Object.keys(variables)).toHaveLength(5);
  });

  it("rejects a malformed root key hash or bad tunables at synth time", () => {
    expect(() => new BatonStack(testApp(), "Bad", { rootKeySha256: "not-a-hash" })).toThrow(/rootKeySha256/);
    expect(() => new BatonStack(testApp(), "Bad", { workerMaxConcurrency: 1 })).toThrow(
      /workerMaxConcurrency/,
    );
    expect(() => new BatonStack(testApp(), "Bad", { workerMaxConcurrency: 1001 })).toThrow(
      /workerMaxConcurrency/,
    );
    expect(() => new BatonStack(testApp(), "Bad", { triggerMaxConcurrency: 1 })).toThrow(
      /triggerMaxConcurrency/,
    );
    expect(() => new BatonStack(testApp(), "Bad", { apiReservedConcurrency: 0 })).toThrow(
      /apiReservedConcurrency/,
    );
    expect(() => new BatonStack(testApp(), "Bad", { retentionDays: 0 })).toThrow(/retentionDays/);
    expect(() => new BatonStack(testApp(), "Bad", { retentionDays: 2.5 })).toThrow(/retentionDays/);
    expect(() => new BatonStack(testApp(), "Bad", { namePrefix: "has space" })).toThrow(/namePrefix/);
    expect(() => new BatonStack(testApp(), "Bad", { apiThrottle: { rateLimit: 0, burstLimit: 10 } })).toThrow(
      /apiThrottle/,
    );
  });

  it("keeps a month of logs per function, and of the HTTP API's access logs", () => {
    // One per function (the events function's too) and the access logs.
    template.resourceCountIs("AWS::Logs::LogGroup", 6);
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    const groups = functions().map((fn) => {
      const config = resource(logicalId(fn)).Properties.LoggingConfig as { LogGroup: { Ref: string } };
      expect(resource(config.LogGroup.Ref).Type).toBe("AWS::Logs::LogGroup");
      return config.LogGroup.Ref;
    });
    expect(new Set(groups).size).toBe(4);
  });
});

describe("sweeper schedule", () => {
  it("invokes the sweeper every minute, without retries (the next minute is the retry)", () => {
    template.resourceCountIs("AWS::Events::Rule", 1);
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: getAtt(stack.sweeperFunction),
          RetryPolicy: { MaximumRetryAttempts: 0 },
          // A sweep EventBridge could not hand to Lambda is recorded, and alarmed on.
          DeadLetterConfig: { Arn: getAtt(stack.scheduleDeadLetterQueue) },
        }),
      ],
    });
  });

  it("lets that rule, and only it, send undeliverable sweeps to the schedule dead-letter queue", () => {
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [ref(stack.scheduleDeadLetterQueue)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Action: "sqs:SendMessage",
            Principal: { Service: "events.amazonaws.com" },
            Condition: { ArnEquals: { "aws:SourceArn": getAtt(stack.sweepRule) } },
          }),
        ]),
      },
    });
  });

  it("turns off Lambda's own async retries (the rule's retries 0 does not) and records failed sweeps", () => {
    expect(asyncConfigOf(stack.sweeperFunction)).toEqual({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 120,
      DestinationConfig: { OnFailure: { Destination: getAtt(stack.asyncFailureQueue) } },
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
  it.each([
    ["the fair run queue", () => stack.fairRunQueue],
    ["the FIFO run queue", () => stack.runQueue],
  ])("takes batches of 10 from %s and reports partial failures", (_name, queue) => {
    template.resourceCountIs("AWS::Lambda::EventSourceMapping", 3);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(queue()),
      FunctionName: ref(stack.workerFunction),
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: BATON_DEFAULTS.workerMaxConcurrency },
    });
  });

  it("takes the fair queue's batch size from workerBatchSize (1–10); named queues keep 10", () => {
    const small = Template.fromStack(new BatonStack(testApp(), "SmallBatches", { workerBatchSize: 1 }));
    const mappings = Object.values(small.findResources("AWS::Lambda::EventSourceMapping")).map(
      (m) => m.Properties as { EventSourceArn: { "Fn::GetAtt": string[] }; BatchSize: number },
    );
    const batchOf = (prefix: string) =>
      mappings.find((m) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(m.EventSourceArn["Fn::GetAtt"][0] ?? ""))
        ?.BatchSize;
    expect(batchOf("FairRunQueue")).toBe(1);
    expect(batchOf("RunQueue")).toBe(10);
    expect(() => new BatonStack(testApp(), "NoBatches", { workerBatchSize: 0 })).toThrow(/workerBatchSize/);
  });

  it("sends runs without a named queue to a standard queue (an SQS fair queue), named ones to FIFO", () => {
    const fair = template.toJSON().Resources[logicalId(stack.fairRunQueue)].Properties;
    expect(fair.FifoQueue).toBeUndefined();
    expect(fair.RedrivePolicy).toMatchObject({ maxReceiveCount: 50 });
    expect(template.toJSON().Resources[logicalId(stack.runQueue)].Properties.FifoQueue).toBe(true);
    const env = template.toJSON().Resources[logicalId(stack.apiFunction)].Properties.Environment.Variables;
    expect(env[ENV.fairRunQueueUrl]).toEqual(ref(stack.fairRunQueue));
    expect(env[ENV.runQueueUrl]).toEqual(ref(stack.runQueue));
  });

  it("is bounded by default, by the worker's own prop", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: ref(stack.workerFunction),
      ScalingConfig: { MaximumConcurrency: BATON_DEFAULTS.workerMaxConcurrency },
    });
    withRootTemplate.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: withRoot.getLogicalId(withRoot.workerFunction.node.defaultChild as CfnResource) },
      ScalingConfig: { MaximumConcurrency: 50 },
    });
    // The trigger keeps its own, smaller bound.
    withRootTemplate.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: withRoot.getLogicalId(withRoot.triggerFunction.node.defaultChild as CfnResource) },
      ScalingConfig: { MaximumConcurrency: BATON_DEFAULTS.triggerMaxConcurrency },
    });
  });
});

describe("delay queue", () => {
  it("is a standard queue (per-message DelaySeconds), encrypted, keeping messages four days", () => {
    const queue = resource(logicalId(stack.delayQueue));
    expect(queue.Type).toBe("AWS::SQS::Queue");
    expect(queue.Properties.FifoQueue).toBeUndefined();
    expect(queue.Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: Duration.days(4).toSeconds(),
    });
  });

  it("redrives to its own standard dead-letter queue after 5 receives", () => {
    expect(resource(logicalId(stack.delayQueue)).Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: getAtt(stack.delayDeadLetterQueue),
      maxReceiveCount: 5,
    });
    expect(stack.delayDeadLetterQueue).not.toBe(stack.deadLetterQueue);
    const dlq = resource(logicalId(stack.delayDeadLetterQueue));
    expect(dlq.Properties.FifoQueue).toBeUndefined();
    expect(dlq.Properties.SqsManagedSseEnabled).toBe(true);
    // A standard DLQ keeps the original enqueue time: it must retain longer than the source.
    expect(dlq.Properties.MessageRetentionPeriod as number).toBeGreaterThan(
      resource(logicalId(stack.delayQueue)).Properties.MessageRetentionPeriod as number,
    );
  });

  it("hides a message for longer than the trigger may run", () => {
    const visibility = resource(logicalId(stack.delayQueue)).Properties.VisibilityTimeout as number;
    const triggerTimeout = resource(logicalId(stack.triggerFunction)).Properties.Timeout as number;
    expect(triggerTimeout).toBe(TRIGGER_TIMEOUT.toSeconds());
    expect(visibility).toBeGreaterThanOrEqual(triggerTimeout);
  });

  it.each([
    ["delay queue", () => stack.delayQueue],
    ["its dead-letter queue", () => stack.delayDeadLetterQueue],
  ] as const)("the %s refuses plain-HTTP access", (_, queue) => {
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [ref(queue())],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("trigger", () => {
  it("has the fixed name its ARN in the environment is computed from", () => {
    expect(resource(logicalId(stack.triggerFunction)).Properties.FunctionName).toBe("Baton-trigger");
    expect(stack.resolve(stack.triggerFunction.functionArn)).toEqual(getAtt(stack.triggerFunction));
  });

  it("takes batches of 10 from the delay queue and reports partial failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(stack.delayQueue),
      FunctionName: ref(stack.triggerFunction),
      BatchSize: 10,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    template.resourcePropertiesCountIs(
      "AWS::Lambda::EventSourceMapping",
      { FunctionName: ref(stack.triggerFunction) },
      1,
    );
  });

  it("is the only consumer of the delay queue", () => {
    const mappings = template.findResources("AWS::Lambda::EventSourceMapping", {
      Properties: { EventSourceArn: getAtt(stack.delayQueue) },
    });
    expect(Object.values(mappings).map((m) => m.Properties.FunctionName)).toEqual([
      ref(stack.triggerFunction),
    ]);
  });
});

describe("schedules", () => {
  it("keeps every schedule in one group named after the stack", () => {
    template.resourceCountIs("AWS::Scheduler::ScheduleGroup", 1);
    template.hasResourceProperties("AWS::Scheduler::ScheduleGroup", { Name: "Baton-baton" });
    expect(template.toJSON().Outputs.ScheduleGroupName.Value).toBe("Baton-baton");
  });

  it("the scheduler role is assumable only by EventBridge Scheduler, for this account's group", () => {
    const role = resource(logicalId(stack.schedulerRole));
    const trust = (role.Properties.AssumeRolePolicyDocument as { Statement: Record<string, unknown>[] })
      .Statement;
    expect(trust).toHaveLength(1);
    expect(trust[0]).toMatchObject({
      Effect: "Allow",
      Action: "sts:AssumeRole",
      Principal: { Service: "scheduler.amazonaws.com" },
      Condition: {
        StringEquals: {
          "aws:SourceAccount": { Ref: "AWS::AccountId" },
          "aws:SourceArn": stack.resolve(
            stack.formatArn({
              service: "scheduler",
              resource: "schedule-group",
              resourceName: "Baton-baton",
            }),
          ),
        },
      },
    });
  });

  it("the scheduler role may only invoke the trigger and record what it could not deliver", () => {
    const role = resource(logicalId(stack.schedulerRole));
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role.Properties.Policies).toBeUndefined();
    expect(statementsOfRole(logicalId(stack.schedulerRole))).toEqual([
      // A firing Scheduler gave up on goes to the schedule dead-letter queue, as this role.
      {
        Effect: "Allow",
        Action: ["sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"],
        Resource: getAtt(stack.scheduleDeadLetterQueue),
      },
      { Effect: "Allow", Action: "lambda:InvokeFunction", Resource: getAtt(stack.triggerFunction) },
    ]);
    // Nothing else uses the role as its own.
    template.resourcePropertiesCountIs("AWS::Lambda::Function", { Role: getAtt(stack.schedulerRole) }, 0);
  });
});

describe("template", () => {
  type Resources = Record<string, { DependsOn?: string | string[]; Properties?: unknown }>;

  /** Logical ids a value refers to through Ref, Fn::GetAtt or Fn::Sub. */
  function references(value: unknown, ids: Set<string>, into = new Set<string>()): Set<string> {
    if (Array.isArray(value)) {
      for (const item of value) references(item, ids, into);
    } else if (typeof value === "object" && value !== null) {
      for (const [key, inner] of Object.entries(value)) {
        if (key === "Ref" && typeof inner === "string" && ids.has(inner)) into.add(inner);
        else if (key === "Fn::GetAtt" && Array.isArray(inner) && ids.has(String(inner[0]))) {
          into.add(String(inner[0]));
        } else if (key === "Fn::Sub") {
          const text = [inner].flat()[0];
          for (const [, id] of String(text).matchAll(/\$\{([^.}]+)/g)) if (id && ids.has(id)) into.add(id);
          references(inner, ids, into);
        } else references(inner, ids, into);
      }
    }
    return into;
  }

  /** One dependency cycle among the resources (CloudFormation rejects those), or undefined. */
  function findCycle(resources: Resources): string[] | undefined {
    const ids = new Set(Object.keys(resources));
    const edges = new Map(
      Object.entries(resources).map(([id, r]) => [
        id,
        [...references(r.Properties, ids), ...[r.DependsOn ?? []].flat()],
      ]),
    );
    const state = new Map<string, "visiting" | "done">();
    const path: string[] = [];
    const visit = (id: string): string[] | undefined => {
      if (state.get(id) === "done") return undefined;
      if (state.get(id) === "visiting") return [...path.slice(path.indexOf(id)), id];
      state.set(id, "visiting");
      path.push(id);
      for (const next of edges.get(id) ?? []) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
      path.pop();
      state.set(id, "done");
      return undefined;
    };
    for (const id of ids) {
      const cycle = visit(id);
      if (cycle) return cycle;
    }
    return undefined;
  }

  it("the cycle check finds a cycle when there is one", () => {
    expect(
      findCycle({
        Fn: { Properties: { Environment: { Self: { "Fn::GetAtt": ["Fn", "Arn"] } } } },
      }),
    ).toEqual(["Fn", "Fn"]);
    expect(findCycle({ A: { Properties: { X: { Ref: "B" } } }, B: { DependsOn: ["A"] }, C: {} })).toEqual([
      "A",
      "B",
      "A",
    ]);
    expect(findCycle({ A: { Properties: { X: { Ref: "B" } } }, B: {} })).toBeUndefined();
  });

  it("has no circular dependency (the trigger's own ARN comes from its name, not itself)", () => {
    expect(findCycle(template.toJSON().Resources as Resources)).toBeUndefined();
    expect(findCycle(withRootTemplate.toJSON().Resources as Resources)).toBeUndefined();
    expect(
      references(
        resource(logicalId(stack.triggerFunction)).Properties,
        new Set([logicalId(stack.triggerFunction)]),
      ).size,
    ).toBe(0);
  });

  it("derives names of at most 64 characters from the stack name", () => {
    expect(physicalName("Baton", "trigger")).toBe("Baton-trigger");
    const long = "a".repeat(128);
    const name = physicalName(long, "trigger");
    expect(name.length).toBeLessThanOrEqual(64);
    expect(name).toMatch(/^a+-[0-9a-f]{8}-trigger$/);
    expect(physicalName(`${"a".repeat(127)}b`, "trigger")).not.toBe(name);
    expect(physicalName(long, "baton").length).toBeLessThanOrEqual(64);
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

  it("POST /v1/callbacks reaches the api Lambda through the $default route", () => {
    // One route, $default, so no other route can take the callback path away from it.
    const routes = Object.values(template.findResources("AWS::ApiGatewayV2::Route"));
    expect(routes.map((route) => route.Properties.RouteKey)).toEqual(["$default"]);
    const [route] = routes;
    if (route === undefined) throw new Error("no route");
    const target = route.Properties.Target as { "Fn::Join": [string, [string, { Ref: string }]] };
    const integrationId = target["Fn::Join"][1][1].Ref;
    expect(resource(integrationId).Properties).toMatchObject({
      IntegrationType: "AWS_PROXY",
      IntegrationUri: getAtt(stack.apiFunction),
    });
    // API Gateway may invoke the api Lambda for every stage, method and path.
    const permission = Object.values(
      template.findResources("AWS::Lambda::Permission", {
        Properties: { FunctionName: getAtt(stack.apiFunction), Principal: "apigateway.amazonaws.com" },
      }),
    );
    expect(permission).toHaveLength(1);
    const sourceArn = permission[0]?.Properties.SourceArn as { "Fn::Join": [string, unknown[]] };
    expect(sourceArn["Fn::Join"][1].at(-1)).toBe("/*/*");
  });

  it("publishes the URLs and names a client or operator needs", () => {
    const outputs = Object.keys(template.toJSON().Outputs);
    expect(outputs).toEqual(
      expect.arrayContaining([
        "ApiUrl",
        "RunQueueUrl",
        "RunDeadLetterQueueUrl",
        "DelayQueueUrl",
        "DelayDeadLetterQueueUrl",
        "ScheduleDeadLetterQueueUrl",
        "AsyncFailureQueueUrl",
        "FileTokenSecretArn",
        "AlarmTopicArn",
        "DashboardName",
        "ScheduleGroupName",
        "FilesBucketName",
        "ParamsKeyArn",
        "RunsTableName",
        "DefinitionsTableName",
        "TenantsTableName",
        "KeysTableName",
        "CountersTableName",
        "ChainsTableName",
        "GrantsTableName",
        "DestinationsTableName",
      ]),
    );
  });
});

describe("least privilege", () => {
  const table = (name: TableName) => logicalId(stack.tables.tables[name]);

  it.each([
    ["worker", () => stack.workerFunction],
    ["sweeper", () => stack.sweeperFunction],
    ["trigger", () => stack.triggerFunction],
  ] as const)(
    "the %s writes runs and counters, only reads definitions and tenants (their limits), never touches keys",
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
      // Every start reads its tenant's start rate, chain emission its tree limits; nothing more.
      const tenants = actionsOn(fn(), table("tenants"));
      expect(tenants).toEqual(expect.arrayContaining(["dynamodb:GetItem"]));
      for (const action of DYNAMO_WRITES) expect(tenants).not.toContain(action);
      expect(policies).not.toContain(table("keys"));
      expect(actionsOn(fn(), logicalId(stack.runQueue))).toContain("sqs:SendMessage");
    },
  );

  it.each([
    ["worker", () => stack.workerFunction],
    ["sweeper", () => stack.sweeperFunction],
    ["trigger", () => stack.triggerFunction],
  ] as const)("the %s only reads chains and grants (to hand a finished run on)", (_, fn) => {
    for (const name of ["chains", "grants"] as const) {
      const actions = actionsOn(fn(), table(name));
      expect(actions).toEqual(expect.arrayContaining(["dynamodb:GetItem", "dynamodb:Query"]));
      for (const action of DYNAMO_WRITES) expect(actions).not.toContain(action);
    }
  });

  it("the api reads and writes chains and grants (admins manage them through the API)", () => {
    for (const name of ["chains", "grants"] as const) {
      expect(actionsOn(stack.apiFunction, table(name))).toEqual(
        expect.arrayContaining([
          "dynamodb:GetItem",
          "dynamodb:Query",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
          "dynamodb:DeleteItem",
          "dynamodb:BatchWriteItem",
        ]),
      );
    }
  });

  it("the worker only reads destinations (an upload opens one); sweeper and trigger never see them", () => {
    const worker = actionsOn(stack.workerFunction, table("destinations"));
    expect(worker).toEqual(expect.arrayContaining(["dynamodb:GetItem"]));
    for (const action of DYNAMO_WRITES) expect(worker).not.toContain(action);
    for (const fn of [stack.sweeperFunction, stack.triggerFunction]) {
      expect(rolePolicies(fn)).not.toContain(table("destinations"));
    }
    expect(actionsOn(stack.apiFunction, table("destinations"))).toEqual(
      expect.arrayContaining([
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
      ]),
    );
  });

  it("no role but the api's may write chains, grants or destinations", () => {
    const targets = [table("chains"), table("grants"), table("destinations")];
    const writers = new Set<string>();
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
      const statements = policy.Properties.PolicyDocument.Statement as Statement[];
      const writes = statements.some(
        (statement) =>
          statement.Effect === "Allow" &&
          [statement.Action].flat().some((action) => DYNAMO_WRITES.includes(action)) &&
          targets.some((id) => JSON.stringify(statement.Resource).includes(id)),
      );
      if (writes) for (const role of policy.Properties.Roles as { Ref: string }[]) writers.add(role.Ref);
    }
    expect([...writers]).toEqual([roleId(stack.apiFunction)]);
  });

  it("the worker writes files and reads them back (HeadObject needs s3:GetObject)", () => {
    const objects = bucketObjects();
    for (const action of [
      "s3:PutObject",
      "s3:GetObject",
      // lib-storage's multipart upload, for large bodies.
      "s3:AbortMultipartUpload",
    ]) {
      expect(allows(stack.workerFunction, action, objects), action).toBe(true);
    }
    // No ACLs or deletes: lib-storage needs neither.
    for (const action of ["s3:PutObjectAcl", "s3:PutObjectVersionAcl", "s3:DeleteObject"]) {
      expect(allows(stack.workerFunction, action, objects), action).toBe(false);
    }
  });

  it("the api only reads files (HeadObject and presigned GetObject), never writes or deletes them", () => {
    const objects = bucketObjects();
    expect(allows(stack.apiFunction, "s3:GetObject", objects)).toBe(true);
    // s3:ListBucket makes HeadObject on a missing key a 404 rather than a 403.
    expect(allows(stack.apiFunction, "s3:ListBucket", getAtt(stack.bucket))).toBe(true);
    const actions = bucketActions(stack.apiFunction);
    for (const action of ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:PutObjectAcl"]) {
      expect(
        actions.some((pattern) => covers(pattern, action)),
        action,
      ).toBe(false);
    }
  });

  it.each([
    ["sweeper", () => stack.sweeperFunction],
    ["trigger", () => stack.triggerFunction],
  ] as const)("the %s has no access to the files bucket", (_, fn) => {
    expect(rolePolicies(fn())).not.toContain(logicalId(stack.bucket));
    expect(bucketActions(fn())).toEqual([]);
    // Its only S3 statement: the claim-checked payloads of the runs it reads and writes.
    const s3Statements = roleStatements(fn()).filter((statement) =>
      [statement.Action].flat().some((action) => /^s3:/.test(action)),
    );
    expect(s3Statements.map((statement) => [statement.Resource].flat())).toEqual([[payloadObjects()]]);
  });

  it("no role may delete files, and writes reach objects only, never the bucket itself", () => {
    for (const policy of Object.values(template.findResources("AWS::IAM::Policy"))) {
      for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
        const actions = [statement.Action].flat();
        expect(actions.some((pattern) => covers(pattern, "s3:DeleteObject"))).toBe(false);
        const writes = actions.some(
          (pattern) => /^s3:(Put|Delete|Abort)/i.test(pattern) || pattern === "s3:*",
        );
        if (writes)
          expect([[bucketObjects()], [payloadObjects()]]).toContainEqual([statement.Resource].flat());
      }
    }
  });

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
            Action: ["sqs:SendMessage", "sqs:GetQueueAttributes"],
            Resource: [getAtt(stack.runQueue), getAtt(stack.fairRunQueue)],
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
  it("the trigger consumes the delay queue but not the run queue, and never touches schedules", () => {
    const delay = actionsOn(stack.triggerFunction, logicalId(stack.delayQueue));
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage"]) expect(delay).toContain(action);
    const run = actionsOn(stack.triggerFunction, logicalId(stack.runQueue));
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) {
      expect(run).not.toContain(action);
    }
    expect(schedulerAndIamActions(stack.triggerFunction)).toEqual([]);
  });

  it.each([
    ["worker", () => stack.workerFunction],
    ["sweeper", () => stack.sweeperFunction],
  ] as const)("the %s has no delay queue, schedule or PassRole access", (_, fn) => {
    expect(rolePolicies(fn())).not.toContain(logicalId(stack.delayQueue));
    expect(rolePolicies(fn())).not.toContain(logicalId(stack.schedulerRole));
    expect(schedulerAndIamActions(fn())).toEqual([]);
  });

  it("the api may send to the delay queue but not consume it", () => {
    const delay = actionsOn(stack.apiFunction, logicalId(stack.delayQueue));
    expect(delay).toContain("sqs:SendMessage");
    for (const action of ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]) {
      expect(delay).not.toContain(action);
    }
  });

  it("the api manages schedules only inside the Baton group", () => {
    const statements = roleStatements(stack.apiFunction).filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith("scheduler:")),
    );
    expect(statements).toHaveLength(1);
    const [statement] = statements;
    expect([statement?.Action].flat().sort()).toEqual([
      "scheduler:CreateSchedule",
      "scheduler:DeleteSchedule",
      "scheduler:GetSchedule",
      "scheduler:UpdateSchedule",
    ]);
    expect(statement?.Resource).toEqual(
      stack.resolve(
        stack.formatArn({ service: "scheduler", resource: "schedule", resourceName: "Baton-baton/*" }),
      ),
    );
    expect(statement?.Condition).toBeUndefined();
  });

  it("the api may pass only the scheduler role, and only to EventBridge Scheduler", () => {
    const passRole = roleStatements(stack.apiFunction).filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith("iam:") || action === "*"),
    );
    expect(passRole).toEqual([
      {
        Effect: "Allow",
        Action: "iam:PassRole",
        Resource: getAtt(stack.schedulerRole),
        Condition: { StringEquals: { "iam:PassedToService": "scheduler.amazonaws.com" } },
      },
    ]);
  });

  it.each([
    ["api", () => stack.apiFunction],
    ["worker", () => stack.workerFunction],
    ["sweeper", () => stack.sweeperFunction],
    ["trigger", () => stack.triggerFunction],
  ] as const)(
    "the %s may seal and open params: GenerateDataKey and Decrypt on the params key, nothing more",
    (_, fn) => {
      const key = getAtt(stack.paramsKey);
      expect(allows(fn(), "kms:GenerateDataKey", key)).toBe(true);
      expect(allows(fn(), "kms:Decrypt", key)).toBe(true);
      // Exactly those two on the key: no kms:*, Encrypt, ReEncrypt* or key management.
      expect([...new Set(actionsOn(fn(), logicalId(stack.paramsKey)))].sort()).toEqual([
        "kms:Decrypt",
        "kms:GenerateDataKey",
      ]);
      // And no KMS action at all on any other resource (or on everything).
      const kmsStatements = roleStatements(fn()).filter((statement) =>
        [statement.Action].flat().some((action) => action.toLowerCase().startsWith("kms:") || action === "*"),
      );
      expect(kmsStatements).not.toHaveLength(0);
      for (const statement of kmsStatements) {
        expect([statement.Resource].flat()).toEqual([key]);
        for (const action of [statement.Action].flat()) {
          expect(["kms:Decrypt", "kms:GenerateDataKey"]).toContain(action);
        }
      }
    },
  );

  it("no other principal gets KMS permissions (the key policy keeps only the account root)", () => {
    const sealers = new Set(functions().map(roleId));
    const mentionsKms = (statement: Statement) =>
      [statement.Action].flat().some((action) => action.toLowerCase().startsWith("kms:") || action === "*") ||
      JSON.stringify(statement.Resource).includes(logicalId(stack.paramsKey));
    for (const t of [template, withRootTemplate]) {
      for (const policy of Object.values(t.findResources("AWS::IAM::Policy"))) {
        const statements = policy.Properties.PolicyDocument.Statement as Statement[];
        if (!statements.some(mentionsKms)) continue;
        for (const role of policy.Properties.Roles as { Ref: string }[]) expect(sealers).toContain(role.Ref);
        expect(policy.Properties.Users).toBeUndefined();
        expect(policy.Properties.Groups).toBeUndefined();
      }
      for (const managed of Object.values(t.findResources("AWS::IAM::ManagedPolicy"))) {
        expect((managed.Properties.PolicyDocument.Statement as Statement[]).some(mentionsKms)).toBe(false);
      }
      for (const role of Object.values(t.findResources("AWS::IAM::Role"))) {
        const inline = (role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
        expect(inline.flatMap((p) => p.PolicyDocument.Statement).some(mentionsKms)).toBe(false);
      }
    }
    // The scheduler role in particular may only invoke the trigger.
    expect(
      statementsOfRole(stack.getLogicalId(stack.schedulerRole.node.defaultChild as CfnResource)).some(
        mentionsKms,
      ),
    ).toBe(false);
  });
});

describe("bounded concurrency", () => {
  it("reserves the api's concurrency, so a run backlog never throttles starts", () => {
    expect(resource(logicalId(stack.apiFunction)).Properties.ReservedConcurrentExecutions).toBe(
      BATON_DEFAULTS.apiReservedConcurrency,
    );
    const sized = Template.fromStack(new BatonStack(testApp(), "Sized", { apiReservedConcurrency: 20 }));
    sized.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.api",
      ReservedConcurrentExecutions: 20,
    });
  });

  it("reserves nothing for the others: the worker and trigger are capped at their event sources", () => {
    for (const fn of [stack.workerFunction, stack.triggerFunction, stack.sweeperFunction]) {
      expect(resource(logicalId(fn)).Properties.ReservedConcurrentExecutions).toBeUndefined();
    }
    for (const fn of [stack.workerFunction, stack.triggerFunction]) {
      const mappings = template.findResources("AWS::Lambda::EventSourceMapping", {
        Properties: { FunctionName: ref(fn) },
      });
      for (const mapping of Object.values(mappings)) {
        expect(mapping.Properties.ScalingConfig.MaximumConcurrency).toEqual(expect.any(Number));
      }
    }
  });

  it("the defaults fit an account's default quota of 1000, with the 100 Lambda keeps unreserved", () => {
    // docs/operations.md, "Sizing concurrency": api and events reserved + worker cap (once per
    // run queue) + trigger cap + overlapping sweeps (a 5-minute sweeper started every minute)
    // must leave the account's 100 unreserved.
    const sweeps = SWEEPER_TIMEOUT.toMinutes();
    const worst =
      BATON_DEFAULTS.apiReservedConcurrency +
      BATON_DEFAULTS.eventsReservedConcurrency +
      2 * BATON_DEFAULTS.workerMaxConcurrency +
      BATON_DEFAULTS.triggerMaxConcurrency +
      sweeps;
    expect(worst).toBeLessThanOrEqual(1000 - 100);
  });
});

describe("asynchronous invocations (the trigger and the sweeper)", () => {
  it("the trigger retries twice within an hour, then records the failure", () => {
    expect(asyncConfigOf(stack.triggerFunction)).toEqual({
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(stack.asyncFailureQueue) } },
    });
  });

  it("the api and the worker, invoked synchronously, have no async settings", () => {
    expect(asyncConfigOf(stack.apiFunction)).toBeUndefined();
    expect(asyncConfigOf(stack.workerFunction)).toBeUndefined();
  });

  it("the trigger and the sweeper, and nothing else, may send to the async failure queue", () => {
    const senders = [stack.triggerFunction, stack.sweeperFunction];
    for (const fn of senders) {
      expect(actionsOn(fn, logicalId(stack.asyncFailureQueue))).toContain("sqs:SendMessage");
    }
    for (const fn of [stack.apiFunction, stack.workerFunction]) {
      expect(rolePolicies(fn)).not.toContain(logicalId(stack.asyncFailureQueue));
    }
  });

  it.each([
    ["schedule dead-letter queue", () => stack.scheduleDeadLetterQueue],
    ["async failure queue", () => stack.asyncFailureQueue],
  ] as const)("the %s is standard, encrypted, keeps messages 14 days and refuses plain HTTP", (_, queue) => {
    const properties = resource(logicalId(queue())).Properties;
    // EventBridge, Scheduler and Lambda destinations take standard queues only.
    expect(properties.FifoQueue).toBeUndefined();
    expect(properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [ref(queue())],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      },
    });
  });
});

describe("file-token secret", () => {
  const secret = () => stack.fileTokenSecret;

  it("is generated in Secrets Manager: 64 letters and digits, retained by default", () => {
    template.resourceCountIs("AWS::SecretsManager::Secret", 1);
    template.hasResource("AWS::SecretsManager::Secret", {
      DeletionPolicy: "Retain",
      Properties: { GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true } },
    });
  });

  it("reaches only the api, the worker and the sweeper, as an ARN read at cold start", () => {
    const arn = stack.resolve(secret().secretArn);
    for (const fn of [stack.apiFunction, stack.workerFunction, stack.sweeperFunction]) {
      const variables = (resource(logicalId(fn)).Properties.Environment as { Variables: object }).Variables;
      expect(variables).toHaveProperty(ENV.fileTokenSecretArn, arn);
      expect(allows(fn, "secretsmanager:GetSecretValue", arn)).toBe(true);
    }
    // The trigger ends no succeeded run, so it never hands a file on.
    const trigger = (
      resource(logicalId(stack.triggerFunction)).Properties.Environment as { Variables: object }
    ).Variables;
    expect(trigger).not.toHaveProperty(ENV.fileTokenSecretArn);
    expect(rolePolicies(stack.triggerFunction)).not.toContain("secretsmanager:");
  });

  it("never appears as a value: no function's environment holds a secret", () => {
    for (const fn of functions()) {
      const variables = (resource(logicalId(fn)).Properties.Environment as { Variables: object }).Variables;
      expect(variables).not.toHaveProperty(ENV.fileTokenSecret);
    }
  });

  it("an existing secret can be given by ARN: nothing is generated, its ARN is passed on", () => {
    const existing = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:baton-file-token-AbCdEf";
    const imported = Template.fromStack(
      new BatonStack(testApp(), "Imported", { fileTokenSecretArn: existing }),
    );
    imported.resourceCountIs("AWS::SecretsManager::Secret", 0);
    imported.hasResourceProperties("AWS::Lambda::Function", {
      Handler: "index.api",
      Environment: { Variables: { [ENV.fileTokenSecretArn]: existing } },
    });
  });
});

describe("safe defaults", () => {
  it("protects every table from deletion and keeps it when the stack goes", () => {
    for (const table of Object.values(stack.tables.tables)) {
      const found = resource(logicalId(table));
      expect(found.DeletionPolicy).toBe("Retain");
      expect(found.Properties.DeletionProtectionEnabled).toBe(true);
    }
  });

  it("a throwaway stage (removalPolicy DESTROY) can be deleted whole", () => {
    const throwaway = new BatonStack(testApp(), "Throwaway", { removalPolicy: RemovalPolicy.DESTROY });
    const json = Template.fromStack(throwaway).toJSON().Resources as Record<
      string,
      { Type: string; DeletionPolicy?: string; Properties: Record<string, unknown> }
    >;
    for (const found of Object.values(json)) {
      if (found.Type === "AWS::DynamoDB::Table") {
        expect(found.DeletionPolicy).toBe("Delete");
        expect(found.Properties.DeletionProtectionEnabled).toBe(false);
      }
      if (["AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SecretsManager::Secret"].includes(found.Type)) {
        expect(found.DeletionPolicy).toBe("Delete");
      }
    }
  });

  it("expires task files on the runs' horizon, and abandoned multipart uploads after a day", () => {
    const rules = (
      resource(logicalId(stack.bucket)).Properties.LifecycleConfiguration as {
        Rules: Record<string, unknown>[];
      }
    ).Rules;
    expect(rules).toEqual([
      {
        Id: "expire-with-runs",
        Status: "Enabled",
        ExpirationInDays: BATON_DEFAULTS.retentionDays,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
    ]);
  });

  it("one retentionDays sets both the runs' TTL horizon and the files' expiry", () => {
    const shortLived = Template.fromStack(new BatonStack(testApp(), "ShortLived", { retentionDays: 7 }));
    shortLived.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 7 })] },
    });
    expect(
      Object.keys(
        shortLived.findResources("AWS::Lambda::Function", {
          Properties: { Environment: { Variables: { [ENV.runRetentionDays]: "7" } } },
        }),
      ),
    ).toHaveLength(5);
  });
});

describe("HTTP API stage", () => {
  const stage = () => {
    const stages = Object.values(template.findResources("AWS::ApiGatewayV2::Stage"));
    expect(stages).toHaveLength(1);
    return stages[0]?.Properties as Record<string, unknown>;
  };

  it("is the auto-deployed $default stage, with default throttling", () => {
    expect(stage()).toMatchObject({
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: BATON_DEFAULTS.apiThrottle.rateLimit,
        ThrottlingBurstLimit: BATON_DEFAULTS.apiThrottle.burstLimit,
      },
    });
  });

  it("throttles as the deployment says (apiThrottle): the bound on every tenant's requests together", () => {
    const throttled = Template.fromStack(
      new BatonStack(testApp(), "Throttled", { apiThrottle: { rateLimit: 50, burstLimit: 20 } }),
    );
    throttled.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 20 },
    });
    expect(BATON_DEFAULTS.apiThrottle).toEqual({ rateLimit: 500, burstLimit: 200 });
  });

  it("keeps its logical id, so a deployed stack's stage is updated, not replaced", () => {
    expect(Object.keys(template.findResources("AWS::ApiGatewayV2::Stage"))).toEqual([
      expect.stringMatching(/^HttpApiDefaultStage[0-9A-F]{8}$/),
    ]);
  });

  it("writes JSON access logs, one line per request with its id, status and latency", () => {
    const settings = stage().AccessLogSettings as { DestinationArn: unknown; Format: string };
    const group = (settings.DestinationArn as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
    expect(resource(group).Type).toBe("AWS::Logs::LogGroup");
    const format = JSON.parse(settings.Format) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: "$context.requestId",
      status: "$context.status",
      latencyMs: "$context.responseLatency",
      integrationError: "$context.integrationErrorMessage",
    });
  });
});
