/**
 * Request body examples shown in the OpenAPI document, by operation. The tests check that each
 * one passes the schema its route parses with.
 */
type Examples = Record<string, { summary: string; value: unknown }>;

export const startTaskExamples: Examples = {
  plain: { summary: "Start a run", value: { definition: "echo", params: { name: "Ada" } } },
  ordered: {
    summary: "In a named queue, once per key, in 30 s",
    value: { definition: "report", queue: "nightly", idempotencyKey: "report-2026-11-22", after: 30_000 },
  },
  debounced: {
    summary: "Collapse a burst: one run 2 s after the last start, with its params",
    value: {
      definition: "reindex",
      params: { page: "pricing" },
      debounce: { key: "pricing", delayMs: 2_000 },
    },
  },
  urgent: {
    summary: "Ahead of the line: promoted before lower priorities",
    value: { definition: "report", params: { customer: "acme" }, priority: 9 },
  },
  chained: {
    summary: "Start another task when this one succeeds",
    value: {
      definition: "write-file",
      params: { name: "report.txt", text: "Q3 numbers\n" },
      chain: {
        customerId: "prod",
        name: "receive-report",
        params: [
          { name: "download", value: "@FileToken@" },
          { name: "note", value: "from @UserID@ on @DATE@", encrypt: true },
        ],
      },
    },
  },
};

export const putDefinitionExamples: Examples = {
  task: {
    summary: "A task with limits",
    value: {
      handler: "echo",
      params: { greeting: "hello" },
      maxAttempts: 5,
      timeoutSeconds: 120,
      maxConcurrency: 8,
      maxQueueLength: 1000,
    },
  },
  callback: {
    summary: "A callback task",
    value: { handler: "await-callback", mode: "callback", callbackTimeoutSeconds: 3600 },
  },
  nightly: {
    summary: "Every night at 2:00 in Berlin",
    value: {
      handler: "report",
      schedule: { cron: "0 2 * * *", timezone: "Europe/Berlin", params: { day: "yesterday" } },
    },
  },
  workflow: {
    summary: "A workflow",
    value: {
      kind: "workflow",
      steps: [
        { id: "fetch", definition: "echo", params: { url: "https://example.com/sales.csv" } },
        { id: "report", definition: "echo", dependsOn: ["fetch"], params: { source: "@Step.fetch.url@" } },
      ],
    },
  },
};

export const callbackExamples: Examples = {
  success: {
    summary: "Report success, with logs and output",
    value: {
      taskId: "01JD3Q0Z9X6Y7K8M9N0P1Q2R3S",
      status: "SUCCESS",
      logs: ["line one", "line two"],
      output: { zipFileLocation: "https://example.com/jpeg" },
      subtext: "Completed with 90/100 passing",
    },
  },
  progress: {
    summary: "A progress note; the run keeps waiting",
    value: { taskId: "01JD3Q0Z9X6Y7K8M9N0P1Q2R3S", subtext: "40/100 done" },
  },
};

export const createTenantExamples: Examples = {
  tenant: { summary: "A tenant", value: { id: "acme", name: "Acme Inc." } },
};

export const createKeyExamples: Examples = {
  runner: { summary: "A key that starts and reads runs", value: { role: "runner" } },
};

export const putChainExamples: Examples = {
  chain: { summary: "Start notify next", value: { definition: "notify", description: "tell the team" } },
};

export const patchTaskExamples: Examples = {
  subtext: { summary: "Set the subtext", value: { subtext: "waiting for the bank" } },
};

export const putDestinationExamples: Examples = {
  sftp: {
    summary: "An SFTP server, with its host key pinned",
    value: {
      url: "sftp://files.example.com:2222/inbox",
      username: "baton",
      password: "correct horse battery staple",
      hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
    },
  },
  ftps: {
    summary: "An FTP server over TLS (explicit; port 990 means implicit)",
    value: { url: "ftps://ftp.example.com/uploads/images", username: "clienttrack", password: "s3cret" },
  },
};
