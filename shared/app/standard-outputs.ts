/**
 * The standard outputs (ClientTrack's): `FileName`, `FileKey`, `FileSize` for the file a handler
 * stored last, `FTP-URL` for the file it uploaded last, laid over what the handler returned. An
 * output that is not an object goes under `result`.
 */
import type { StoredFile, UploadedFile } from "../core/task.ts";

export const FTP_URL_OUTPUT = "FTP-URL";

export function withStandardOutputs(
  output: unknown,
  files: { stored?: StoredFile | undefined; uploaded?: UploadedFile | undefined },
): unknown {
  const { stored, uploaded } = files;
  if (stored === undefined && uploaded === undefined) return output;
  const own =
    output === undefined || output === null
      ? {}
      : typeof output === "object" && !Array.isArray(output)
        ? output
        : { result: output };
  return {
    ...own,
    ...(stored === undefined ? {} : { FileName: stored.name, FileKey: stored.key, FileSize: stored.size }),
    ...(uploaded === undefined ? {} : { [FTP_URL_OUTPUT]: uploaded.url }),
  };
}
