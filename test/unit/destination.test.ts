/** Destination URLs (strict parsing, normalized form, file URLs) and which addresses count as public. */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { withStandardOutputs } from "../../shared/app/standard-outputs.ts";
import { LocalParamCrypto } from "../../shared/aws/param-crypto.ts";
import { resolveChainParams } from "../../shared/core/chain.ts";
import {
  credentialKindsOf,
  formatDestinationUrl,
  isPublicAddress,
  parseDestinationUrl,
  uploadedFileUrl,
} from "../../shared/core/destination.ts";

describe("parseDestinationUrl", () => {
  it("reads protocol, host, port (or the protocol's default) and folder, and writes them back normalized", () => {
    expect(parseDestinationUrl("ftp://ftp.example.com/inbox/images")).toEqual({
      protocol: "ftp",
      host: "ftp.example.com",
      port: 21,
      folder: ["inbox", "images"],
    });
    expect(parseDestinationUrl("SFTP://Files.Example.COM:2222/")).toEqual({
      protocol: "sftp",
      host: "files.example.com",
      port: 2222,
      folder: [],
    });
    expect(parseDestinationUrl("ftps://[::1]:990/a").host).toBe("::1");
    expect(formatDestinationUrl(parseDestinationUrl("sftp://h.example.com:22//in//x/"))).toBe(
      "sftp://h.example.com/in/x",
    );
    expect(formatDestinationUrl(parseDestinationUrl("ftps://[2001:db8::1]:2121/a"))).toBe(
      "ftps://[2001:db8::1]:2121/a",
    );
    expect(parseDestinationUrl("sftp://h.example.com/~/out").folder).toEqual(["~", "out"]);
    expect(uploadedFileUrl(parseDestinationUrl("ftp://10.0.0.5:2121/in"), "report.txt")).toBe(
      "ftp://10.0.0.5:2121/in/report.txt",
    );
  });

  it.each([
    "http://example.com/in",
    "ftp:/example.com",
    "ftp://user:secret@example.com/in",
    "ftp://user@example.com/in",
    "ftp://example.com/in?x=1",
    "ftp://example.com/in#x",
    "ftp://example.com:0/in",
    "ftp://example.com:65536/in",
    "ftp://example.com:/in",
    "ftp://exa_mple.com/in",
    "ftp://-example.com/in",
    "ftp://999.1.1.1/in",
    "ftp://[not-ipv6]/in",
    "ftp://example.com/in/../etc",
    "ftp://example.com/./in",
    "ftp://example.com/in%20box",
    "ftp://example.com/in box",
    "ftp://example.com/~/in",
    "sftp://example.com/in/~",
    `ftp://example.com/${"a".repeat(2_100)}`,
  ])("refuses %s", (url) => {
    expect(() => parseDestinationUrl(url)).toThrow(/^url /);
  });
});

describe("isPublicAddress", () => {
  it.each(["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])("takes %s as public", (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });

  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fd00::1",
    "fe80::1",
    "::ffff:127.0.0.1",
    "not an address",
  ])("takes %s as not public", (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });
});

describe("sealed credentials", () => {
  it("open only for the tenant, destination and kind they were sealed for, never as a chain param", async () => {
    const crypto = new LocalParamCrypto(randomBytes(32));
    const context = { tenant: "acme", destination: "clienttrack", credential: "password" } as const;
    const sealed = await crypto.seal("hunter2-but-longer", context);
    expect(sealed).not.toContain("hunter2");
    expect(await crypto.open(sealed, context)).toBe("hunter2-but-longer");
    await expect(crypto.open(sealed, { ...context, tenant: "globex" })).rejects.toThrow();
    await expect(crypto.open(sealed, { ...context, destination: "other" })).rejects.toThrow();
    await expect(crypto.open(sealed, { ...context, credential: "privateKey" })).rejects.toThrow();
    await expect(
      crypto.open(sealed, { tenant: "acme", taskId: "clienttrack", param: "password" }),
    ).rejects.toThrow();
  });
});

describe("the FTP-URL standard output", () => {
  const upload = { name: "a.pdf", destination: "ct", url: "sftp://files.example.com/in/a.pdf" };

  it("joins what the handler returned, as the file outputs do, and a chain reads it", () => {
    expect(withStandardOutputs({ pages: 3 }, { uploaded: upload })).toEqual({
      pages: 3,
      "FTP-URL": upload.url,
    });
    expect(withStandardOutputs("done", { uploaded: upload })).toEqual({
      result: "done",
      "FTP-URL": upload.url,
    });
    expect(withStandardOutputs(undefined, { uploaded: upload })).toEqual({ "FTP-URL": upload.url });
    expect(withStandardOutputs({ pages: 3 }, { uploaded: undefined })).toEqual({ pages: 3 });
    const params = resolveChainParams(
      { name: "notify", params: [{ name: "where", value: "@Output.FTP-URL@" }] },
      {
        output: withStandardOutputs({}, { uploaded: upload }),
        params: {},
        userId: "k",
        taskId: "t",
        now: new Date(),
      },
    );
    expect(params).toEqual({ where: upload.url });
  });
});

describe("credentialKindsOf", () => {
  const base = { tenant: "acme", name: "d", url: "sftp://h/", username: "u", createdAt: "t", updatedAt: "t" };

  it("names which credentials are set, never their values", () => {
    expect(credentialKindsOf(base)).toStrictEqual([]);
    expect(credentialKindsOf({ ...base, password: "baton:sealed:v1:x" })).toStrictEqual(["password"]);
    expect(credentialKindsOf({ ...base, privateKey: "baton:sealed:v1:y" })).toStrictEqual(["privateKey"]);
    expect(credentialKindsOf({ ...base, password: "p", privateKey: "k" })).toStrictEqual([
      "password",
      "privateKey",
    ]);
  });
});
