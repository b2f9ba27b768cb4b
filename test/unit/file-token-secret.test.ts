/**
 * The file-token secret on AWS: the config names a Secrets Manager secret by ARN, and
 * resolveSecrets reads it once (cold start) into the config. No Secrets Manager emulator runs
 * here, so a client that records its requests stands in.
 */
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { resolveSecrets } from "../../shared/compose.ts";
import { type BatonConfig, configFromEnv } from "../../shared/config.ts";
import { minimalEnv } from "../support/config-env.ts";

const ARN = "arn:aws:secretsmanager:eu-west-1:1:secret:Baton-file-token-AbCdEf";
const config: BatonConfig = configFromEnv({
  ...minimalEnv("eu-west-1"),
  BATON_FILE_TOKEN_SECRET_ARN: ARN,
});

function secretsClient(answer: { SecretString?: string }) {
  const asked: unknown[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: unknown }) {
      asked.push({ command: command.constructor.name, input: command.input });
      return answer;
    },
  };
  return { client: client as unknown as SecretsManagerClient, asked };
}

describe("resolveSecrets", () => {
  it("reads the secret the config names into fileTokenSecret, once", async () => {
    const secrets = secretsClient({ SecretString: "x".repeat(64) });
    const resolved = await resolveSecrets(config, { client: secrets.client });
    expect(resolved.fileTokenSecret).toBe("x".repeat(64));
    expect(resolved.fileTokenSecretArn).toBeUndefined();
    expect(secrets.asked).toEqual([{ command: "GetSecretValueCommand", input: { SecretId: ARN } }]);
  });

  it("refuses a secret too short to sign with, or one without a string", async () => {
    await expect(
      resolveSecrets(config, { client: secretsClient({ SecretString: "short" }).client }),
    ).rejects.toThrow(/shorter than 32 characters/);
    await expect(resolveSecrets(config, { client: secretsClient({}).client })).rejects.toThrow(
      /holds no string value/,
    );
  });

  it("reads nothing when the config names no secret (local: the value is given)", async () => {
    const secrets = secretsClient({ SecretString: "y".repeat(64) });
    const { fileTokenSecretArn: _arn, ...local } = config;
    const withValue = { ...local, fileTokenSecret: "z".repeat(32) };
    expect(await resolveSecrets(withValue, { client: secrets.client })).toBe(withValue);
    expect(secrets.asked).toEqual([]);
  });
});
