import awaitCallback from "./await-callback.ts";
import echo from "./echo.ts";
import fail from "./fail.ts";
import sleep from "./sleep.ts";
import writeFile from "./write-file.ts";

/** The example handlers the README quickstart uses. */
export const exampleTasks = [echo, sleep, fail, awaitCallback, writeFile];
