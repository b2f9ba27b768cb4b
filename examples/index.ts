import awaitCallback from "./await-callback.ts";
import echo from "./echo.ts";
import fail from "./fail.ts";
import importBatch from "./import-batch.ts";
import notifySignups from "./notify-signups.ts";
import sendEmail from "./send-email.ts";
import sleep from "./sleep.ts";
import writeFile from "./write-file.ts";

/** The example handlers the README quickstart and docs use. */
export const exampleTasks = [
  echo,
  sleep,
  fail,
  awaitCallback,
  writeFile,
  importBatch,
  sendEmail,
  notifySignups,
];
