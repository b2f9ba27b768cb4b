import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

/**
 * Reads one string secret from Secrets Manager. Called once per cold start (shared/compose.ts
 * `resolveSecrets`), so a secret never sits in a function's environment or the template.
 */
export async function readSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  if (result.SecretString === undefined) {
    throw new Error(`secret ${secretId} holds no string value`);
  }
  return result.SecretString;
}

/** On AWS the default credential chain; `endpoint` for LocalStack. */
export function createSecretsClient(options: { region: string; endpoint?: string }): SecretsManagerClient {
  return new SecretsManagerClient({
    region: options.region,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  });
}
