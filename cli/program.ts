/** The `baton` command line: commands, flags and help, on commander. */
import { Command, CommanderError, Option } from "@commander-js/extra-typings";
import packageJson from "../package.json" with { type: "json" };
import {
  BatonApiError,
  type BatonClient,
  BatonClientError,
  BatonConnectionError,
  type BulkView,
  type CallbackRequest,
  isTerminalStatus,
  RUN_STATUS_NAMES,
  type StartTaskRequest,
  type TaskView,
} from "../shared/client/index.ts";
import { DEBOUNCE_MAX_MS } from "../shared/core/debounce.ts";
import { MAX_PRIORITY } from "../shared/core/priority.ts";
import { type ConnectionFlags, clientFor, DEFAULT_URL, type Environment } from "./connection.ts";
import { runDev } from "./dev.ts";
import { ExitCode, RunNotSucceededError, StepFailedError, UsageError } from "./exit-codes.ts";
import { initProject } from "./init.ts";
import {
  bulkSummary,
  definitionTable,
  endSummary,
  statusSentence,
  taskDetails,
  taskTable,
  watchLine,
} from "./render.ts";
import {
  collectKeyValue,
  collectString,
  parseCount,
  parseDuration,
  parseIsoTime,
  parseLimit,
  parsePort,
  readJsonObject,
  wholeNumber,
} from "./values.ts";

export interface CliIo extends Environment {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
}

const HELP_FOOTER = `
Connection:
  --url, BATON_URL     the API (default ${DEFAULT_URL}, where \`baton dev\` / \`npm run dev\` listens)
  --key, BATON_KEY     an API key; without one, the dev tenant's admin key is read from
                       .baton/dev-key (or $BATON_DATA_DIR/dev-key) when that file exists

Exit codes:
  0  done (watch: the run succeeded)
  1  watch: the run ended failed, timed_out or cancelled
  2  usage error: unknown command or flag, bad value, no key
  3  the API answered an error, or could not be reached
  4  a bug in the CLI
  5  a program the command runs failed (init: packing Baton)`;

/** Runs one command line and answers the exit code; never throws, never prints a stack for user errors. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const print = (text: string) => io.stdout.write(`${text}\n`);
  const note = (text: string) => io.stderr.write(`${text}\n`);
  // Known before parsing, so that even commander's own refusals come out as JSON.
  const args = argv.slice(2);
  const jsonErrors = args.slice(0, args.includes("--") ? args.indexOf("--") : undefined).includes("--json");
  const noteError = ({ hint, ...error }: CliErrorJson) =>
    note(jsonErrors ? JSON.stringify(error) : `baton: ${error.message}${hint ? `\n${hint}` : ""}`);

  const program = new Command("baton")
    .description("Start, follow and manage Baton background tasks.")
    .version(packageJson.version, "-V, --version")
    .option("--url <url>", "API base URL (env BATON_URL)")
    .option("--key <key>", "API key (env BATON_KEY; falls back to .baton/dev-key)")
    .option("--json", "print machine-readable JSON instead of text")
    .showHelpAfterError(!jsonErrors && "(add --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) =>
        jsonErrors
          ? noteError({ error: "usage_error", message: text.trim().replace(/^error: /, "") })
          : write(text),
    })
    .addHelpText("after", HELP_FOOTER);

  const flags = (): ConnectionFlags & { json?: boolean } => program.opts();
  const client = (options: { needsKey?: boolean } = {}): BatonClient => clientFor(flags(), io, options);
  const out = (json: unknown, human: () => string) =>
    print(flags().json ? JSON.stringify(json, null, 2) : human());

  /** Follows a run to its end: a bar on a terminal, a line per change otherwise, or the final JSON. */
  const follow = async (api: BatonClient, taskId: string): Promise<TaskView> => {
    const tty = io.stdout.isTTY === true && !flags().json;
    let lastLine = "";
    const final = await api.waitForEnd(taskId, {
      onUpdate: (task) => {
        if (flags().json) return;
        const line = watchLine(task);
        if (line === lastLine) return;
        lastLine = line;
        if (tty) io.stdout.write(`\r\x1b[2K${line.slice(0, Math.max(20, (io.stdout.columns || 80) - 1))}`);
        else print(line);
      },
    });
    if (tty) io.stdout.write("\n");
    if (flags().json) print(JSON.stringify(final, null, 2));
    else print(endSummary(final));
    if (final.status !== "succeeded") throw new RunNotSucceededError(statusSentence(taskId, final.status));
    return final;
  };

  program
    .command("dev")
    .description("run Baton on this machine with your handlers (emulators, API, worker; state in .baton/)")
    .addOption(new Option("--port <port>", "HTTP port (env PORT; default 3000)").argParser(parsePort))
    .option("--data-dir <dir>", "where state and keys are kept (env BATON_DATA_DIR; default .baton)")
    .addOption(
      new Option("--workers <n>", "concurrent worker batches (env BATON_WORKERS; default 4)").argParser(
        parseCount,
      ),
    )
    .option(
      "--tasks <module>",
      "your handlers: a module whose default export is an array of tasks (defineTask) or a registry; TypeScript needs no build, edits reload the worker",
    )
    .option("--examples", "also run the example handlers the docs use (echo, sleep, fail, …)")
    .addHelpText(
      "after",
      "\nOne baton dev per data folder (a second one refuses to start). Stopping it by any signal stops its emulators.\nWith --json it prints one JSON line {url, tenant, adminKey, rootKey, dataDir, handlers} once started.",
    )
    .action(async (options) => {
      exitCode = await runDev({ ...options, json: flags().json === true }, io.env, io.cwd);
    });

  program
    .command("init [dir]")
    .description("create a project that uses Baton: a handler, baton dev, a CDK app with the Baton construct")
    .option(
      "--baton <spec>",
      "the baton dependency in its package.json (default: this Baton, packed into the project's vendor/ folder)",
    )
    .action((dir: string | undefined, options) => {
      const written = initProject(dir ?? ".", options);
      out({ dir: dir ?? ".", files: written }, () =>
        [`created ${written.join(", ")}`, "next: npm install, then npm run dev (README.md)"].join("\n"),
      );
    });

  const definitions = program.command("definitions").alias("defs").description("manage task definitions");
  definitions
    .command("put")
    .description("create or replace a definition from a JSON file (the body of PUT /v1/definitions/{name})")
    .requiredOption("-f, --file <file>", "the definition as JSON")
    .option("--name <name>", "the definition's name (default: the file's \"name\")")
    .action(async (options) => {
      const body = readJsonObject(options.file, "definition file");
      const name = options.name ?? body.name;
      if (typeof name !== "string" || name === "") {
        throw new UsageError(`give the definition a name: --name, or "name" in ${options.file}`);
      }
      const { definition, created } = await client().putDefinition(name, body);
      out({ created, definition }, () => `${created ? "created" : "replaced"} definition ${definition.name}`);
    });
  definitions
    .command("list")
    .description("list definitions")
    .addOption(new Option("--limit <n>", "at most this many (1-100, default 50)").argParser(parseLimit))
    .option("--cursor <cursor>", "the page after the one that answered this cursor")
    .action(async (options) => {
      const page = await client().listDefinitions(options);
      out(page, () => definitionTable(page.items));
      if (!flags().json && page.cursor !== null) note(`more: --cursor ${page.cursor}`);
    });
  definitions
    .command("get <name>")
    .description("show one definition")
    .action(async (name) => {
      const definition = await client().getDefinition(name);
      print(JSON.stringify(definition, null, 2));
    });
  definitions
    .command("delete <name>")
    .description("delete a definition (started runs keep their snapshot)")
    .action(async (name) => {
      await client().deleteDefinition(name);
      out({ deleted: name }, () => `deleted definition ${name}`);
    });

  program
    .command("start <definition>")
    .description("start a run of a definition; prints its task id")
    .option(
      "-p, --param <key=value>",
      "a param; the value is JSON when it parses, else text (repeatable)",
      collectKeyValue,
    )
    .option("--params-file <file>", "params from a JSON object (--param wins)")
    .option("-q, --queue <queue>", "a named queue: its runs never overlap and start in order")
    .addOption(
      new Option("--after <duration>", "start later: 500ms, 30s, 5m, 2h")
        .argParser(parseDuration)
        .conflicts("at"),
    )
    .addOption(new Option("--at <time>", "start at an ISO 8601 time with a zone").argParser(parseIsoTime))
    .option("--idempotency-key <key>", "a repeat with the same key (24 h) starts nothing new")
    .addOption(
      new Option("--priority <0-9>", "its place in a waiting line: higher first (default: the definition's)")
        .argParser(wholeNumber(0, MAX_PRIORITY))
        .conflicts("queue"),
    )
    .addOption(
      new Option(
        "--debounce-key <key>",
        "collapse starts with this key inside a window into one run",
      ).conflicts(["after", "at", "idempotencyKey"]),
    )
    .addOption(
      new Option(
        "--debounce-ms <ms>",
        "the window: ms after the last start (trailing) or the first (leading)",
      ).argParser(wholeNumber(1, DEBOUNCE_MAX_MS)),
    )
    .addOption(
      new Option(
        "--debounce-mode <mode>",
        "trailing (default): run once the window closes; leading: run the first",
      ).choices(["trailing", "leading"]),
    )
    .addOption(
      new Option(
        "--debounce-max-ms <ms>",
        "trailing: start no later than this after the first start",
      ).argParser(wholeNumber(1, DEBOUNCE_MAX_MS)),
    )
    .option("-w, --watch", "then follow the run to its end, like `baton watch`")
    .action(async (definition, options) => {
      const debounceKey = options.debounceKey;
      if ((debounceKey === undefined) !== (options.debounceMs === undefined)) {
        throw new UsageError("--debounce-key and --debounce-ms go together");
      }
      if (debounceKey === undefined && (options.debounceMode ?? options.debounceMaxMs) !== undefined) {
        throw new UsageError("--debounce-mode and --debounce-max-ms need --debounce-key and --debounce-ms");
      }
      const params = {
        ...(options.paramsFile === undefined ? {} : readJsonObject(options.paramsFile, "params file")),
        ...(options.param ?? {}),
      };
      const body: StartTaskRequest = {
        definition,
        ...(Object.keys(params).length > 0 ? { params } : {}),
        ...(options.queue === undefined ? {} : { queue: options.queue }),
        ...(options.after === undefined ? {} : { after: options.after }),
        ...(options.at === undefined ? {} : { at: options.at }),
        ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
        ...(options.priority === undefined ? {} : { priority: options.priority }),
        ...(debounceKey === undefined || options.debounceMs === undefined
          ? {}
          : {
              debounce: {
                key: debounceKey,
                delayMs: options.debounceMs,
                ...(options.debounceMode === undefined ? {} : { mode: options.debounceMode }),
                ...(options.debounceMaxMs === undefined ? {} : { maxDelayMs: options.debounceMaxMs }),
              },
            }),
      };
      const api = client();
      const started = await api.startTask(body);
      if (flags().json && !options.watch) print(JSON.stringify(started, null, 2));
      if (!flags().json) {
        print(started.taskId);
        note(
          `started ${definition}: ${started.status}${started.idempotentReplay ? " (idempotent repeat: nothing new started)" : ""}${started.joined ? " (debounced: joined the open window's run)" : started.debounced ? " (debounced: opened a window)" : ""}`,
        );
      }
      if (options.watch) await follow(api, started.taskId);
    });

  program
    .command("status <taskId>")
    .description("show a run: status, progress, feedback, output, error")
    .action(async (taskId) => {
      const api = client();
      const [task, started] = await Promise.all([api.getTask(taskId), api.listStartedTasks(taskId)]);
      out({ ...task, started: started.items }, () => taskDetails(task, started.items));
    });

  program
    .command("watch <taskId>")
    .description("follow a run with a progress bar until it ends; exit 0 only if it succeeded")
    .addHelpText(
      "after",
      "\nExit: 0 succeeded, 1 failed/timed_out/cancelled, 3 API error. With --json: the final run as JSON.",
    )
    .action(async (taskId) => {
      await follow(client(), taskId);
    });

  program
    .command("logs <taskId>")
    .description("print a run's log lines")
    .option("-f, --follow", "keep printing new lines until the run ends")
    .addHelpText(
      "after",
      "\nWith --json: the lines as a JSON array, or with --follow one JSON object per line.",
    )
    .action(async (taskId, options) => {
      const api = client();
      if (!options.follow) {
        const task = await api.getTask(taskId);
        if (flags().json) print(JSON.stringify(task.logs, null, 2));
        else for (const { at, line } of task.logs) print(`${at}  ${line}`);
        return;
      }
      // Old lines may be dropped from the front (logsDropped counts them): number lines from the first ever.
      let printed = 0;
      await api.waitForEnd(taskId, {
        onUpdate: (task) => {
          const first = task.logsDropped;
          task.logs.forEach((entry, index) => {
            if (first + index < printed) return;
            print(flags().json ? JSON.stringify(entry) : `${entry.at}  ${entry.line}`);
          });
          printed = Math.max(printed, first + task.logs.length);
        },
      });
    });

  program
    .command("replay <taskId>")
    .description(
      "start a run again with the original's params (and --param over them); prints the new task id",
    )
    .option("-p, --param <key=value>", "a param over the original's (repeatable)", collectKeyValue)
    .option("--from-failed-step", "a failed workflow run: keep the steps that succeeded, run the rest")
    .option("-w, --watch", "then follow the new run to its end, like `baton watch`")
    .action(async (taskId, options) => {
      const api = client();
      const started = await api.replayTask(taskId, {
        ...(options.param === undefined ? {} : { params: options.param }),
        ...(options.fromFailedStep === true ? { fromFailedStep: true } : {}),
      });
      if (flags().json && !options.watch) print(JSON.stringify(started, null, 2));
      if (!flags().json) {
        print(started.taskId);
        note(`replayed ${taskId}: ${started.status}`);
      }
      if (options.watch) await follow(api, started.taskId);
    });

  program
    .command("cancel <taskId>")
    .description("cancel a run (a running one stops at its next heartbeat)")
    .action(async (taskId) => {
      const result = await client().cancelTask(taskId);
      out(result, () =>
        result.cancelRequested && !isTerminalStatus(result.status)
          ? `cancel requested: task ${taskId} is ${result.status} and stops at its next heartbeat`
          : statusSentence(taskId, result.status),
      );
    });

  program
    .command("callback <taskId>")
    .description("report on an awaiting callback-mode run, as the outside system would")
    .addOption(
      new Option("--status <status>", "end the run (absent: a progress report)").choices([
        "SUCCESS",
        "FAILURE",
      ] as const),
    )
    .option("--log <line>", "a log line, stamped on arrival (repeatable)", collectString)
    .option(
      "-o, --output <key=value>",
      "an output value, merged over the run's (repeatable; JSON when it parses)",
      collectKeyValue,
    )
    .option("--subtext <text>", "the run's subtext")
    .option("--token <token>", "the run's callback token (env BATON_CALLBACK_TOKEN) instead of an API key")
    .addHelpText(
      "after",
      "\nAuthenticates with the run's callback token (--token: what the handler handed out as ctx.callbackToken)\nor, without one, with your API key (runner or admin) — the token is never shown by the API.",
    )
    .action(async (taskId, options) => {
      const token = options.token ?? (io.env.BATON_CALLBACK_TOKEN || undefined);
      const body: CallbackRequest = {
        taskId,
        ...(options.status === undefined ? {} : { status: options.status }),
        ...(options.log === undefined ? {} : { logs: options.log }),
        ...(options.output === undefined ? {} : { output: options.output }),
        ...(options.subtext === undefined ? {} : { subtext: options.subtext }),
      };
      const task = await client({ needsKey: token === undefined }).callback(
        body,
        token === undefined ? {} : { token },
      );
      out(task, () => statusSentence(task.taskId, task.status));
    });

  const tasks = program.command("tasks").description("list runs");
  tasks
    .command("list")
    .description("list runs, newest first")
    .addOption(new Option("--status <status>", "only runs with this status").choices(RUN_STATUS_NAMES))
    .option("--definition <name>", "only runs of this definition")
    .addOption(new Option("--limit <n>", "at most this many (1-100)").argParser(parseLimit))
    .option("--cursor <cursor>", "the page after the one that answered this cursor")
    .action(async (options) => {
      const page = await client().listTasks(options);
      out(page, () => (page.items.length === 0 ? "no runs" : taskTable(page.items)));
      if (!flags().json && page.cursor !== null) note(`more: --cursor ${page.cursor}`);
    });

  const bulk = program
    .command("bulk")
    .description("cancel or replay every run a filter matches, in the background (--dry-run: count them)");
  for (const action of ["cancel", "replay"] as const) {
    bulk
      .command(action)
      .description(
        action === "cancel"
          ? "cancel every matching run (ended ones are skipped)"
          : "replay every matching run once, with the original's params",
      )
      .addOption(new Option("--status <status>", "only runs with this status").choices(RUN_STATUS_NAMES))
      .option("--definition <name>", "only runs of this definition")
      .option("--queue <name>", "only runs on this named queue")
      .option("--created-after <time>", "only runs created at or after this ISO 8601 time", parseIsoTime)
      .option("--created-before <time>", "only runs created before this ISO 8601 time", parseIsoTime)
      .option("--dry-run", "count the matching runs, act on none")
      .option("-w, --wait", "then follow the bulk until it ends, like `baton bulk status --wait`")
      .action(async (options) => {
        const api = client();
        const started = await api.startBulk({
          action,
          filter: {
            ...(options.status === undefined ? {} : { status: options.status }),
            ...(options.definition === undefined ? {} : { definition: options.definition }),
            ...(options.queue === undefined ? {} : { queue: options.queue }),
            ...(options.createdAfter === undefined ? {} : { createdAfter: options.createdAfter }),
            ...(options.createdBefore === undefined ? {} : { createdBefore: options.createdBefore }),
          },
          ...(options.dryRun === true ? { dryRun: true } : {}),
        });
        if (options.wait === true) {
          const final = await followBulk(api, started.bulkId);
          out(final, () => bulkSummary(final));
          return;
        }
        out(started, () => started.bulkId);
        if (!flags().json) {
          note(
            `bulk ${action}${options.dryRun === true ? " (dry run)" : ""}: ${started.matched}${started.matchedAll ? "" : "+"} runs match so far; follow it with \`baton bulk status ${started.bulkId}\``,
          );
        }
      });
  }
  bulk
    .command("status <bulkId>")
    .description("a bulk action's progress")
    .option("-w, --wait", "wait until it ends")
    .action(async (bulkId, options) => {
      const api = client();
      const view = options.wait === true ? await followBulk(api, bulkId) : await api.getBulk(bulkId);
      out(view, () => bulkSummary(view));
    });

  /** Polls a bulk until it leaves `running`; on a terminal, one line of progress as it goes. */
  const followBulk = async (api: BatonClient, bulkId: string): Promise<BulkView> => {
    const tty = io.stdout.isTTY === true && !flags().json;
    for (;;) {
      const view = await api.getBulk(bulkId);
      if (view.status !== "running") {
        if (tty) io.stdout.write("\r\x1b[2K");
        return view;
      }
      if (tty) io.stdout.write(`\r\x1b[2K${bulkSummary(view)}`);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  };

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return report(error, noteError, jsonErrors);
  }
}

/**
 * An error as `--json` prints it on stderr: one line, the API's own `{error, message, details?}`
 * shape (plus `status`, the HTTP status, for an API error), so a script parses both alike.
 */
interface CliErrorJson {
  error: string;
  message: string;
  status?: number;
  details?: unknown;
  /** Text mode only: a second line of advice. */
  hint?: string;
}

function report(error: unknown, noteError: (error: CliErrorJson) => void, json: boolean): number {
  if (error instanceof CommanderError) {
    // Help and version exit 0; everything else commander refused is a usage error (already printed).
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof UsageError) {
    noteError({ error: "usage_error", message: error.message, hint: "(add --help for usage)" });
    return ExitCode.usage;
  }
  if (error instanceof StepFailedError) {
    noteError({ error: "step_failed", message: error.message });
    return ExitCode.step;
  }
  // The run's summary (or, with --json, the run itself) is already printed.
  if (error instanceof RunNotSucceededError) return ExitCode.runNotSucceeded;
  if (error instanceof BatonApiError) {
    const details = Array.isArray(error.details)
      ? (error.details as Array<{ path?: string; message?: string }>)
          .map(
            (detail) =>
              `  ${detail.path ? `${detail.path}: ` : ""}${detail.message ?? JSON.stringify(detail)}`,
          )
          .join("\n")
      : "";
    noteError(
      json
        ? {
            error: error.error,
            message: error.message,
            status: error.status,
            ...(error.details === undefined ? {} : { details: error.details }),
          }
        : {
            error: error.error,
            message: `${error.message} (HTTP ${error.status} ${error.error})`,
            hint: details,
          },
    );
    return ExitCode.api;
  }
  if (error instanceof BatonConnectionError) {
    noteError({
      error: "connection_failed",
      message: error.message,
      hint: "Is Baton running there? Start it with `baton dev`, or set --url / BATON_URL.",
    });
    return ExitCode.api;
  }
  if (error instanceof BatonClientError) {
    noteError({ error: "client_error", message: error.message });
    return ExitCode.api;
  }
  noteError({
    error: "internal_error",
    message: `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  });
  return ExitCode.internal;
}
