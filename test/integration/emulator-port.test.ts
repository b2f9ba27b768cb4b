/**
 * DynamoDB Local binds the port picked for it seconds after it was picked; when another process
 * took it meanwhile, the first start tries a newly picked port instead of failing `npm run dev`.
 */
import { createServer, type Server } from "node:net";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, expect, it, vi } from "vitest";

const picked = vi.hoisted(() => ({ ports: [] as number[], answers: [] as number[] }));
vi.mock("get-port", async (importOriginal) => {
  const original = (await importOriginal<typeof import("get-port")>()).default;
  return {
    default: async () => {
      const port = picked.answers.shift() ?? (await original());
      picked.ports.push(port);
      return port;
    },
  };
});

const { startEmulators, LOCAL_CREDENTIALS, LOCAL_REGION } = await import("../../local/emulators.ts");
const { DynamoDBClient } = await import("@aws-sdk/client-dynamodb");

let squatter: Server | undefined;
afterAll(() => {
  squatter?.close();
});

it("starts on another port when the one picked was taken before Java bound it", async () => {
  // Holds the port and hangs up on whoever connects, as a port taken by another process would.
  squatter = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => squatter?.listen(0, "0.0.0.0", resolve));
  const taken = (squatter.address() as { port: number }).port;
  picked.answers.push(taken);
  const lines: string[] = [];
  const emulators = await startEmulators({ log: (line) => lines.push(line) });
  try {
    expect(picked.ports[0]).toBe(taken);
    expect(picked.ports).toHaveLength(2);
    expect(emulators.dynamodbEndpoint).toBe(`http://127.0.0.1:${picked.ports[1]}`);
    expect(lines).toEqual([`DynamoDB Local exited while starting on port ${taken}; trying another port`]);
    const client = new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: emulators.dynamodbEndpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    await expect(client.send(new ListTablesCommand({}))).resolves.toMatchObject({ TableNames: [] });
    client.destroy();
  } finally {
    await emulators.stop();
  }
});
