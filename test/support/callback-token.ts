/** What the outside system receives from the await-callback example: the run's token, from its private file. */
import { readFile } from "node:fs/promises";
import { callbackTokenFile } from "../../examples/await-callback.ts";

export async function handedOutToken(taskId: string): Promise<string | undefined> {
  try {
    return (await readFile(callbackTokenFile(taskId), "utf8")).trim() || undefined;
  } catch {
    return undefined;
  }
}
