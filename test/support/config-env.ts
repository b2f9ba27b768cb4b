/** Environments for configFromEnv in tests, built from the same names the stack sets. */
import { TABLES, type TableName } from "../../shared/aws/tables.ts";
import { ENV } from "../../shared/config.ts";

/**
 * The smallest environment configFromEnv accepts: a name for every table (so a new table needs
 * no test edits), the files bucket and the run queue.
 */
export function minimalEnv(region = "us-east-1"): Record<string, string> {
  const tables = (Object.keys(TABLES) as TableName[]).map((table) => [ENV[`${table}Table`], table]);
  return {
    ...Object.fromEntries(tables),
    [ENV.filesBucket]: "baton-files",
    [ENV.runQueueUrl]: `https://sqs.${region}.amazonaws.com/1/runs.fifo`,
    [ENV.fairRunQueueUrl]: `https://sqs.${region}.amazonaws.com/1/runs-fair`,
  };
}
