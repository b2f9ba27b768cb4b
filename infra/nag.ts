/**
 * Every cdk-nag finding (AwsSolutions and Serverless packs) that Baton accepts, each with the
 * reason it is right here. Everything else the packs report is fixed in the stack, and
 * test/infra/nag.test.ts fails on any finding not acknowledged below.
 *
 * cdk-nag v3 acknowledges one finding at a time through CDK's Validations; a finding about a
 * wildcard names the resource as cdk-nag prints it (`<LogicalId.Arn>/index/*`), so those ids are
 * built from the logical ids here rather than copied.
 */
import { type CfnResource, Stack, Validations } from "aws-cdk-lib";
import type { IConstruct } from "constructs";
import type { Baton } from "./baton-stack.ts";

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** How cdk-nag prints a resource's ARN attribute inside a finding id. */
function arnOf(baton: Baton, construct: IConstruct): string {
  return `<${Stack.of(baton).getLogicalId(construct.node.defaultChild as CfnResource)}.Arn>`;
}

const NODE_RUNTIME =
  "Baton runs on Node.js 22, the version its own toolchain pins and its tests run on " +
  "(package.json engines, the node devDependency); the Lambda runtime moves with them.";

export function acknowledgeNagFindings(stack: Baton): void {
  const functions = [
    stack.apiFunction,
    stack.eventsFunction,
    stack.workerFunction,
    stack.sweeperFunction,
    stack.triggerFunction,
  ];
  const runsIndexes = `${arnOf(stack, stack.tables.tables.runs)}/index/*`;
  const files = `${arnOf(stack, stack.bucket)}/*`;
  const payloads = `${arnOf(stack, stack.payloadsBucket)}/*`;

  for (const fn of functions) {
    acknowledge(fn, "AwsSolutions-L1", NODE_RUNTIME);
    acknowledge(fn, "Serverless-LambdaLatestVersion", NODE_RUNTIME);
    acknowledge(
      fn,
      "Serverless-LambdaTracing",
      "No X-Ray: every log line and metric of a run carries its tenant and taskId " +
        "(docs/observability.md), which is how runs are followed across the functions.",
    );
    const role = fn.role;
    if (role === undefined) throw new Error(`${fn.node.path} has no role`);
    acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::${runsIndexes}]`,
      "Queries go through the runs table's indexes (status, definition, sweep, due, slot, waiting); " +
        "the wildcard is the table's own indexes, no other table's.",
    );
    acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::${payloads}]`,
      "Claim-checked payloads are keyed <tenant>/<runId>/<field>/<sha256>.json, made at run time; " +
        "the wildcard is objects of the payloads bucket only, and the actions are exactly PutObject and GetObject.",
    );
  }
  acknowledge(
    stack.apiFunction,
    "Serverless-LambdaDLQ",
    "Invoked synchronously by API Gateway: the caller gets the error; a dead-letter queue would never receive anything.",
  );
  acknowledge(
    stack.workerFunction,
    "Serverless-LambdaDLQ",
    "Invoked synchronously by the SQS event source: a failed message goes back to the run queue, " +
      "and after 50 receives to its dead-letter queue (RunDeadLetterQueue).",
  );
  acknowledge(
    stack.eventsFunction,
    "Serverless-LambdaDLQ",
    "Invoked synchronously through its function URL: the caller gets the error (an EventSource reconnects).",
  );
  for (const fn of [stack.sweeperFunction, stack.triggerFunction]) {
    acknowledge(
      fn,
      "Serverless-LambdaDLQ",
      "Failed asynchronous invocations go to an on-failure destination (AsyncFailureQueue), " +
        "which also records the error; the older DeadLetterConfig would duplicate it.",
    );
  }
  for (const fn of [stack.workerFunction, stack.triggerFunction]) {
    for (const child of fn.node.children) {
      if (
        (child.node.defaultChild as CfnResource | undefined)?.cfnResourceType !==
        "AWS::Lambda::EventSourceMapping"
      )
        continue;
      acknowledge(
        child,
        "Serverless-LambdaEventSourceMappingDestination",
        "SQS event sources take no on-failure destination (only stream and Kafka sources do); " +
          "the queue's redrive policy moves a failing message to its dead-letter queue.",
      );
    }
  }

  const apiRole = stack.apiFunction.role;
  const workerRole = stack.workerFunction.role;
  if (apiRole === undefined || workerRole === undefined) throw new Error("a Baton function has no role");
  acknowledge(
    apiRole,
    `AwsSolutions-IAM5[Resource::${arnOf(stack, stack.tables.tables.keys)}/index/*]`,
    "Deleting a tenant's keys queries the keys table's byTenant index.",
  );
  const eventsRole = stack.eventsFunction.role;
  if (eventsRole === undefined) throw new Error("the events function has no role");
  acknowledge(
    eventsRole,
    `AwsSolutions-IAM5[Resource::${arnOf(stack, stack.tables.tables.keys)}/index/*]`,
    "grantRead's read of the keys table includes its indexes; the events function only gets keys by hash.",
  );
  acknowledge(
    apiRole,
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${stack.scheduleGroup.name}/*]`,
    "Schedules are made at run time, one per delayed start or cron definition, with hashed names; " +
      "the wildcard stays inside Baton's own schedule group.",
  );
  for (const role of [apiRole, workerRole]) {
    acknowledge(
      role,
      `AwsSolutions-IAM5[Resource::${files}]`,
      "Task files are keyed <tenant>/<taskId>/<name>, made at run time; the wildcard is objects of " +
        "the files bucket only, and the actions are exactly GetObject (and for the worker PutObject " +
        "and AbortMultipartUpload).",
    );
  }

  acknowledge(
    stack.bucket,
    "AwsSolutions-S1",
    "Files are only read through short-lived presigned links the api issues to callers it has " +
      "authenticated (and logs); server access logs would need a second bucket and add nothing " +
      "the api's logs and CloudTrail data events (if wanted) do not give.",
  );
  acknowledge(
    stack.payloadsBucket,
    "AwsSolutions-S1",
    "Only Baton's functions read and write payloads, as part of reading and writing runs, which " +
      "their own logs record; no caller ever reaches the bucket, so access logs would add nothing.",
  );
  acknowledge(
    stack.api.node.findChild("DefaultRoute"),
    "AwsSolutions-APIG4",
    "The api Lambda authenticates every request itself with Baton's API keys (hashed, per tenant, " +
      "with roles); HTTP APIs have no API keys, and IAM or JWT authorizers do not fit clients that " +
      "hold a Baton key.",
  );
  if (stack.node.tryFindChild("FileTokenSecret") !== undefined) {
    acknowledge(
      stack.fileTokenSecret,
      "AwsSolutions-SMG4",
      "File tokens are HMACs under this one secret and carry no key id: rotating it ends every " +
        "token handed out. Rotate by hand when that is wanted (docs/operations.md).",
    );
  }

  const deadLetterQueues = [
    stack.deadLetterQueue,
    stack.fairDeadLetterQueue,
    stack.delayDeadLetterQueue,
    stack.scheduleDeadLetterQueue,
    stack.asyncFailureQueue,
  ];
  for (const queue of deadLetterQueues) {
    acknowledge(
      queue,
      "Serverless-SQSRedrivePolicy",
      "A dead-letter queue is the last stop: its messages wait there (14 days) for an operator, " +
        "alarmed on, to look at them and redrive them.",
    );
  }
  for (const queue of [stack.scheduleDeadLetterQueue, stack.asyncFailureQueue]) {
    acknowledge(
      queue,
      "AwsSolutions-SQS3",
      "It is a dead-letter queue, of EventBridge (schedules, the sweep rule) or of Lambda's " +
        "asynchronous invocations, which cdk-nag cannot see since no SQS redrive policy names it.",
    );
  }
}
