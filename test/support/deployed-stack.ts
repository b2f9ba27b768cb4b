/**
 * The deployed Baton, as close as the emulators allow: the CDK app is synthesized, its DynamoDB
 * tables, SQS queues and bucket are created on the emulators from the template's own resource
 * properties, and the functions are the bundled assets in the cloud assembly (not the sources),
 * each imported with its own environment from the template (refs resolved to the emulator
 * resources). Each function reaches AWS through its own recording proxy, which forwards to the
 * emulators and notes every operation and resource: the IAM check compares those with the
 * function's role policy in the template. EventBridge Scheduler has no emulator: the proxy
 * accepts its calls and records them.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { App } from "aws-cdk-lib";
import type { Context, SQSEvent } from "aws-lambda";
import { BatonStack } from "../../infra/baton-stack.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { lambdaContext } from "../../local/http-server.ts";

export const ACCOUNT = "000000000000";
const PARTITION = "aws";

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;
interface Resource {
  Type: string;
  Properties?: Json;
}
export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, string>>;
}

/** One AWS operation a function performed, as IAM sees it. */
export interface Call {
  action: string;
  resource: string;
  /** For iam:PassRole: the service the role is passed to. */
  passedToService?: string;
}

export type Handler = (event: unknown, context: Context) => Promise<Json>;

export interface DeployedFunction {
  logicalId: string;
  /** The export the template's Handler names: api, events, worker, sweeper or trigger. */
  handlerName: string;
  roleId: string;
  /** The function's configured timeout: what an invocation starts with. */
  timeoutSeconds: number;
  environment: Record<string, string>;
  invoke: Handler;
  calls: Call[];
  /** Bodies of the schedules this function created (EventBridge Scheduler delivers them as events). */
  schedules: Json[];
}

export interface DeployedStack {
  template: { Resources: Record<string, Resource> };
  /** `events` answers its stream whole, once it has closed (see streamingRuntime). */
  functions: Record<"api" | "events" | "worker" | "sweeper" | "trigger", DeployedFunction>;
  /** Emulator name of each table, queue and bucket, by logical id. */
  physical: Record<string, { name: string; arn: string; url?: string }>;
  /** The asset directory the functions were imported from. */
  assetDir: string;
  sqs: SQSClient;
  /** Statements of every inline policy attached to the role. */
  statementsOf(roleId: string): Statement[];
  /** Resolves a template expression against the emulator resources. */
  resolve(value: unknown): unknown;
  /** Messages of a queue (by logical id), as Lambda's event source mapping receives them. */
  receive(queueId: string, waitSeconds?: number): Promise<Message[]>;
  deleteMessages(queueId: string, messages: Message[]): Promise<void>;
  /** The SQS event Lambda hands a function for these messages. */
  sqsEvent(queueId: string, messages: Message[]): SQSEvent;
  stop(): Promise<void>;
}

export interface DeployOptions {
  endpoints: { dynamodb: string; sqs: string };
  prefix: string;
  rootKeySha256: string;
  fileTokenSecret: string;
}

const importBundle = (specifier: string): Promise<Record<string, unknown>> =>
  import(/* @vite-ignore */ specifier);

/**
 * Lambda's `awslambda` global, which a streaming function's bundle wraps its handler with at
 * import. Here the stream is collected and the invocation answers it whole, once it has closed:
 * `{statusCode, headers, body}` as the function's prelude and writes made it.
 */
const streamingRuntime = (() => {
  const preludes = new WeakMap<Writable, { statusCode: number; headers?: Record<string, string> }>();
  return {
    streamifyResponse:
      (fn: (event: unknown, stream: Writable, context: Context) => Promise<void>) =>
      async (event: unknown, context: Context) => {
        const chunks: string[] = [];
        const stream = new Writable({
          write(chunk, _encoding, done) {
            chunks.push(String(chunk));
            done();
          },
        });
        await fn(event, stream, context);
        return { ...(preludes.get(stream) ?? { statusCode: 200 }), body: chunks.join("") };
      },
    HttpResponseStream: {
      from(stream: Writable, prelude: { statusCode: number; headers?: Record<string, string> }) {
        preludes.set(stream, prelude);
        return stream;
      },
    },
  };
})();

export async function deployOnEmulators(options: DeployOptions): Promise<DeployedStack> {
  const outdir = mkdtempSync(join(tmpdir(), "baton-cdk-out-"));
  const app = new App({ outdir });
  new BatonStack(app, "Baton", { rootKeySha256: options.rootKeySha256 });
  const assembly = app.synth();
  const artifact = assembly.getStackByName("Baton");
  const template = artifact.template as { Resources: Record<string, Resource> };
  const resources = Object.entries(template.Resources);
  const common = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const dynamo = new DynamoDBClient({ ...common, endpoint: options.endpoints.dynamodb });
  const sqs = new SQSClient({ ...common, endpoint: options.endpoints.sqs });
  const s3 = new S3Client({ ...common, endpoint: options.endpoints.sqs, forcePathStyle: true });
  const physical: DeployedStack["physical"] = {};

  const resolve = (value: unknown): unknown => resolveExpression(value, template.Resources, physical);

  // Tables, from the template's own key schemas, indexes and TTL.
  for (const [id, resource] of resources.filter(([, r]) => r.Type === "AWS::DynamoDB::Table")) {
    const p = resource.Properties;
    const name = `${options.prefix}${id}`;
    const input: CreateTableCommandInput = {
      TableName: name,
      KeySchema: p.KeySchema,
      AttributeDefinitions: p.AttributeDefinitions,
      BillingMode: p.BillingMode,
      ...(p.GlobalSecondaryIndexes === undefined ? {} : { GlobalSecondaryIndexes: p.GlobalSecondaryIndexes }),
    };
    await dynamo.send(new CreateTableCommand(input));
    if (p.TimeToLiveSpecification?.Enabled === true) {
      await dynamo.send(
        new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: p.TimeToLiveSpecification }),
      );
    }
    physical[id] = { name, arn: `arn:${PARTITION}:dynamodb:${LOCAL_REGION}:${ACCOUNT}:table/${name}` };
  }

  // Queues: dead-letter queues first, since a redrive policy names its DLQ's ARN.
  const queues = resources
    .filter(([, r]) => r.Type === "AWS::SQS::Queue")
    .sort(
      ([, a], [, b]) =>
        Number(a.Properties?.RedrivePolicy !== undefined) - Number(b.Properties?.RedrivePolicy !== undefined),
    );
  for (const [id, resource] of queues) {
    const p = resource.Properties ?? {};
    const name = `${options.prefix}${id}${p.FifoQueue === true ? ".fifo" : ""}`;
    const attributes: Record<string, string> = {};
    for (const key of [
      "FifoQueue",
      "ContentBasedDeduplication",
      "DeduplicationScope",
      "FifoThroughputLimit",
      "MaximumMessageSize",
      "MessageRetentionPeriod",
      "VisibilityTimeout",
      "DelaySeconds",
      "ReceiveMessageWaitTimeSeconds",
    ]) {
      if (p[key] !== undefined) attributes[key] = String(p[key]);
    }
    if (p.RedrivePolicy !== undefined) attributes.RedrivePolicy = JSON.stringify(resolve(p.RedrivePolicy));
    const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    const url = created.QueueUrl ?? "";
    const arn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))
    ).Attributes?.QueueArn;
    physical[id] = { name, arn: arn ?? `arn:${PARTITION}:sqs:${LOCAL_REGION}:${ACCOUNT}:${name}`, url };
  }

  for (const [id] of resources.filter(([, r]) => r.Type === "AWS::S3::Bucket")) {
    const name = `${options.prefix}${id}`.toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    physical[id] = { name, arn: `arn:${PARTITION}:s3:::${name}` };
  }
  s3.destroy();

  // The functions: one asset for all four (the stack bundles once), each imported on its own.
  const proxies: Server[] = [];
  const functions = {} as DeployedStack["functions"];
  let assetDir = "";
  const saved = { ...process.env };
  (globalThis as { awslambda?: unknown }).awslambda = streamingRuntime;
  for (const [id, resource] of resources.filter(([, r]) => r.Type === "AWS::Lambda::Function")) {
    const p = resource.Properties;
    const handlerName = String(p.Handler).replace(/^index\./, "") as keyof DeployedStack["functions"];
    assetDir = join(outdir, `asset.${String(p.Code.S3Key).replace(/\.zip$/, "")}`);
    const calls: Call[] = [];
    const schedules: Json[] = [];
    const proxy = await recordingProxy(options.endpoints, calls, schedules, options.fileTokenSecret);
    proxies.push(proxy.server);
    const environment = Object.fromEntries(
      Object.entries(p.Environment?.Variables ?? {}).map(([name, value]) => [name, String(resolve(value))]),
    );
    // What the Lambda runtime adds, and where this function's AWS calls go.
    Object.assign(process.env, environment, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_LAMBDA_FUNCTION_NAME: id,
      AWS_ENDPOINT_URL: proxy.url,
      POWERTOOLS_LOG_LEVEL: process.env.FIDELITY_LOG_LEVEL ?? "SILENT",
      POWERTOOLS_METRICS_DISABLED: "true",
    });
    // The query string makes a module instance of its own: its own config, clients and proxy.
    const module = await importBundle(`${pathToFileURL(join(assetDir, "index.mjs")).href}?function=${id}`);
    for (const name of Object.keys(environment)) delete process.env[name];
    delete process.env.AWS_ENDPOINT_URL;
    const invoke = module[handlerName] as Handler | undefined;
    if (invoke === undefined) throw new Error(`the bundle exports no ${handlerName}`);
    functions[handlerName] = {
      logicalId: id,
      handlerName,
      roleId: String(p.Role["Fn::GetAtt"][0]),
      timeoutSeconds: Number(p.Timeout ?? 3),
      environment,
      invoke,
      calls,
      schedules,
    };
  }
  for (const [name, value] of Object.entries(saved)) process.env[name] = value;
  delete (globalThis as { awslambda?: unknown }).awslambda;

  const queueOf = (id: string) => {
    const queue = physical[id];
    if (queue?.url === undefined) throw new Error(`no queue ${id}`);
    return queue;
  };
  return {
    template,
    functions,
    physical,
    assetDir,
    sqs,
    resolve,
    statementsOf(roleId) {
      return resources
        .filter(
          ([, r]) =>
            // Inline policies, and the managed overflow policies CDK adds past IAM's size limit.
            (r.Type === "AWS::IAM::Policy" || r.Type === "AWS::IAM::ManagedPolicy") &&
            (r.Properties.Roles as Json[]).some((role) => role.Ref === roleId),
        )
        .flatMap(([, r]) => r.Properties.PolicyDocument.Statement as Statement[]);
    },
    async receive(queueId, waitSeconds = 1) {
      const result = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueOf(queueId).url,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: waitSeconds,
          MessageSystemAttributeNames: ["All"],
        }),
      );
      return result.Messages ?? [];
    },
    async deleteMessages(queueId, messages) {
      for (const message of messages) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueOf(queueId).url, ReceiptHandle: message.ReceiptHandle }),
        );
      }
    },
    sqsEvent(queueId, messages) {
      const queue = queueOf(queueId);
      return {
        Records: messages.map((message) => ({
          messageId: message.MessageId ?? randomUUID(),
          receiptHandle: message.ReceiptHandle ?? "",
          body: message.Body ?? "",
          attributes: {
            ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? "1",
            SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
            SenderId: ACCOUNT,
            ApproximateFirstReceiveTimestamp: String(Date.now()),
            ...(message.Attributes?.MessageGroupId === undefined
              ? {}
              : {
                  MessageGroupId: message.Attributes.MessageGroupId,
                  MessageDeduplicationId: message.Attributes.MessageDeduplicationId ?? "",
                  SequenceNumber: message.Attributes.SequenceNumber ?? "0",
                }),
          },
          messageAttributes: {},
          md5OfBody: message.MD5OfBody ?? "",
          eventSource: "aws:sqs",
          eventSourceARN: queue.arn,
          awsRegion: LOCAL_REGION,
        })),
      };
    },
    async stop() {
      await Promise.all(proxies.map((server) => new Promise((done) => server.close(done))));
      dynamo.destroy();
      sqs.destroy();
      rmSync(outdir, { recursive: true, force: true });
    },
  };
}

/** A Lambda context for an invocation of the function, with its configured timeout. */
export function contextFor(fn: DeployedFunction): Context {
  return lambdaContext(fn.logicalId, fn.timeoutSeconds * 1000);
}

/** CloudFormation intrinsic functions over the template, with ARNs and names of the emulator resources. */
function resolveExpression(
  value: unknown,
  resources: Record<string, Resource>,
  physical: DeployedStack["physical"],
): unknown {
  const again = (v: unknown) => resolveExpression(v, resources, physical);
  if (Array.isArray(value)) return value.map(again);
  if (value === null || typeof value !== "object") return value;
  const expression = value as Record<string, Json>;
  if ("Ref" in expression) {
    const ref = String(expression.Ref);
    const pseudo: Record<string, string> = {
      "AWS::Region": LOCAL_REGION,
      "AWS::AccountId": ACCOUNT,
      "AWS::Partition": PARTITION,
      "AWS::URLSuffix": "amazonaws.com",
      "AWS::StackName": "Baton",
    };
    if (pseudo[ref] !== undefined) return pseudo[ref];
    const type = resources[ref]?.Type;
    if (type === "AWS::SQS::Queue") return physical[ref]?.url;
    // A secret's Ref is its ARN (Secrets Manager adds a random suffix to the name).
    if (type === "AWS::SecretsManager::Secret")
      return `arn:${PARTITION}:secretsmanager:${LOCAL_REGION}:${ACCOUNT}:secret:${ref}-AbCdEf`;
    if (physical[ref] !== undefined) return physical[ref].name;
    return ref;
  }
  if ("Fn::GetAtt" in expression) {
    const [id, attribute] = expression["Fn::GetAtt"] as [string, string];
    const type = resources[id]?.Type;
    if (attribute === "Arn" && physical[id] !== undefined) return physical[id].arn;
    if (attribute === "QueueName" && physical[id] !== undefined) return physical[id].name;
    if (attribute === "Arn" && type === "AWS::KMS::Key")
      return `arn:${PARTITION}:kms:${LOCAL_REGION}:${ACCOUNT}:key/${id}`;
    if (attribute === "Arn" && type === "AWS::IAM::Role")
      return `arn:${PARTITION}:iam::${ACCOUNT}:role/${id}`;
    if (attribute === "Arn" && type === "AWS::Lambda::Function")
      return `arn:${PARTITION}:lambda:${LOCAL_REGION}:${ACCOUNT}:function:${id}`;
    if (attribute === "FunctionUrl" && type === "AWS::Lambda::Url")
      return `https://${id.toLowerCase()}.lambda-url.${LOCAL_REGION}.on.aws/`;
    return `${id}.${attribute}`;
  }
  if ("Fn::Join" in expression) {
    const [separator, parts] = expression["Fn::Join"] as [string, unknown[]];
    return (again(parts) as unknown[]).join(separator);
  }
  if ("Fn::Select" in expression) {
    const [index, list] = expression["Fn::Select"] as [number, unknown];
    return (again(list) as unknown[])[Number(index)];
  }
  if ("Fn::Split" in expression) {
    const [separator, text] = expression["Fn::Split"] as [string, unknown];
    return String(again(text)).split(separator);
  }
  return Object.fromEntries(Object.entries(expression).map(([key, v]) => [key, again(v)]));
}

/**
 * An HTTP proxy in front of the emulators that notes each call as IAM sees it: service from the
 * SigV4 credential scope, action from the request, resource as an ARN.
 */
async function recordingProxy(
  endpoints: DeployOptions["endpoints"],
  calls: Call[],
  schedules: Json[],
  fileTokenSecret: string,
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? "/", "http://proxy");
      // Signed in the header, or in the query string (a presigned link, signed by the function).
      const credential =
        req.headers.authorization ?? `Credential=${url.searchParams.get("X-Amz-Credential") ?? ""}`;
      const service = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\//.exec(credential)?.[1];
      try {
        if (service === "dynamodb") calls.push(...dynamoCalls(String(req.headers["x-amz-target"]), body));
        else if (service === "sqs") calls.push(...sqsCalls(String(req.headers["x-amz-target"]), body));
        else if (service === "s3") calls.push(s3Call(req.method ?? "GET", url));
        else if (service === "scheduler") {
          // No Scheduler emulator: record the call and answer as the service does.
          const name = decodeURIComponent(url.pathname.replace(/^\/schedules\//, ""));
          const input = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
          const group = input.GroupName ?? url.searchParams.get("groupName") ?? "default";
          const action = {
            POST: "CreateSchedule",
            PUT: "UpdateSchedule",
            DELETE: "DeleteSchedule",
            GET: "GetSchedule",
          }[req.method ?? "GET"];
          const arn = `arn:${PARTITION}:scheduler:${LOCAL_REGION}:${ACCOUNT}:schedule/${group}/${name}`;
          calls.push({ action: `scheduler:${action}`, resource: arn });
          if (input.Target?.RoleArn !== undefined) {
            calls.push({
              action: "iam:PassRole",
              resource: input.Target.RoleArn,
              passedToService: "scheduler.amazonaws.com",
            });
          }
          if (action === "CreateSchedule" || action === "UpdateSchedule") schedules.push(input);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(action === "DeleteSchedule" ? {} : { ScheduleArn: arn }));
          return;
        } else if (service === "secretsmanager") {
          // No Secrets Manager emulator: the generated file-token secret, as the service answers.
          const target = String(req.headers["x-amz-target"]).split(".").pop();
          const { SecretId } = JSON.parse(body.toString("utf8")) as { SecretId: string };
          calls.push({ action: `secretsmanager:${target}`, resource: SecretId });
          res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
          res.end(JSON.stringify({ ARN: SecretId, Name: "file-token", SecretString: fileTokenSecret }));
          return;
        } else calls.push({ action: `unknown:${service}`, resource: url.pathname });
      } catch (error) {
        calls.push({ action: `unparsed:${service}`, resource: String(error) });
      }
      const target = new URL(service === "dynamodb" ? endpoints.dynamodb : endpoints.sqs);
      const forward = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on("error", (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("proxy has no port");
  return { server, url: `http://127.0.0.1:${address.port}` };
}

const tableArn = (table: string, index?: string) =>
  `arn:${PARTITION}:dynamodb:${LOCAL_REGION}:${ACCOUNT}:table/${table}${index === undefined ? "" : `/index/${index}`}`;

function dynamoCalls(target: string, body: Buffer): Call[] {
  const operation = target.split(".")[1] ?? target;
  const input = JSON.parse(body.toString("utf8"));
  if (operation === "TransactWriteItems") {
    // IAM checks each item's own action; there is no dynamodb:TransactWriteItems action.
    const actions: Record<string, string> = {
      Put: "PutItem",
      Update: "UpdateItem",
      Delete: "DeleteItem",
      ConditionCheck: "ConditionCheckItem",
    };
    return (input.TransactItems as Json[]).flatMap((item) =>
      Object.entries(item).map(([kind, part]) => ({
        action: `dynamodb:${actions[kind]}`,
        resource: tableArn((part as Json).TableName),
      })),
    );
  }
  if (operation === "TransactGetItems") {
    return (input.TransactItems as Json[]).map((item) => ({
      action: "dynamodb:GetItem",
      resource: tableArn(item.Get.TableName),
    }));
  }
  if (operation === "BatchGetItem" || operation === "BatchWriteItem") {
    return Object.keys(input.RequestItems).map((table) => ({
      action: `dynamodb:${operation}`,
      resource: tableArn(table),
    }));
  }
  return [{ action: `dynamodb:${operation}`, resource: tableArn(input.TableName, input.IndexName) }];
}

function sqsCalls(target: string, body: Buffer): Call[] {
  const operation = (target.split(".")[1] ?? target).replace(/Batch$/, "");
  const input = JSON.parse(body.toString("utf8"));
  const queueName =
    String(input.QueueUrl ?? "")
      .split("/")
      .pop() ?? "";
  return [
    { action: `sqs:${operation}`, resource: `arn:${PARTITION}:sqs:${LOCAL_REGION}:${ACCOUNT}:${queueName}` },
  ];
}

/** S3's REST operations, as the IAM actions they need (HeadObject is s3:GetObject; multipart parts are s3:PutObject). */
function s3Call(method: string, url: URL): Call {
  const [bucket = "", ...rest] = url.pathname.slice(1).split("/");
  const key = rest.join("/");
  const bucketArn = `arn:${PARTITION}:s3:::${bucket}`;
  if (key === "") return { action: "s3:ListBucket", resource: bucketArn };
  const resource = `${bucketArn}/${decodeURIComponent(key)}`;
  if (method === "GET" || method === "HEAD") return { action: "s3:GetObject", resource };
  if (method === "DELETE")
    return {
      action: url.searchParams.has("uploadId") ? "s3:AbortMultipartUpload" : "s3:DeleteObject",
      resource,
    };
  return { action: "s3:PutObject", resource };
}

/** Whether an IAM pattern (with * and ?) matches the text. */
export function iamMatches(pattern: string, text: string, ignoreCase = false): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, ignoreCase ? "i" : "").test(text);
}

/** Whether the statements allow the call (an Allow that matches, and no Deny that does). */
export function allowedBy(
  statements: Statement[],
  call: Call,
  resolve: (value: unknown) => unknown,
): boolean {
  const matches = (statement: Statement) =>
    [statement.Action].flat().some((action) => iamMatches(action, call.action, true)) &&
    [resolve(statement.Resource)].flat().some((resource) => iamMatches(String(resource), call.resource)) &&
    conditionsHold(statement.Condition, call);
  if (statements.some((s) => s.Effect === "Deny" && matches(s))) return false;
  return statements.some((s) => s.Effect === "Allow" && matches(s));
}

/** The one condition key Baton's function policies use; any other makes the statement not match. */
function conditionsHold(condition: Statement["Condition"], call: Call): boolean {
  if (condition === undefined) return true;
  return Object.entries(condition).every(
    ([operator, tests]) =>
      operator === "StringEquals" &&
      Object.entries(tests).every(
        ([key, value]) => key === "iam:PassedToService" && call.passedToService === value,
      ),
  );
}
