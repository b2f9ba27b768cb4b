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
import { ValidationError } from "../../shared/core/errors.ts";

/** The ValidationError parseDestinationUrl throws for `url` (failing the test if it throws none). */
function refusal(url: string): ValidationError {
  try {
    parseDestinationUrl(url);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error(`${url} was accepted`);
}

/** A valid host name of `length` characters: labels of at most 63, joined by dots. */
function hostOfLength(length: number): string {
  const labels: string[] = [];
  for (let left = length, letter = 0; left > 0; left -= 64, letter += 1) {
    labels.push(String.fromCharCode(97 + letter).repeat(Math.min(63, left)));
  }
  return labels.join(".");
}

/** A valid FTP URL of `length` characters: folders of at most 255 characters. */
function urlOfLength(length: number): string {
  let url = "ftp://example.com";
  while (url.length < length) url += `/${"a".repeat(Math.min(255, length - url.length - 1))}`;
  return url;
}

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

  it("accepts the edges of what is allowed", () => {
    expect(parseDestinationUrl("ftp://example.com:1/").port).toBe(1);
    expect(parseDestinationUrl("ftp://example.com:65535/").port).toBe(65_535);
    // Host names may start or end with digits; only all-digit-and-dot hosts are read as IPv4.
    expect(parseDestinationUrl("sftp://backup01/in").host).toBe("backup01");
    expect(parseDestinationUrl("sftp://4files.example.com/in").host).toBe("4files.example.com");
    expect(parseDestinationUrl(`ftp://${hostOfLength(253)}/in`).host).toHaveLength(253);
    expect(formatDestinationUrl(parseDestinationUrl(urlOfLength(2_048)))).toHaveLength(2_048);
  });

  it("says what is wrong, as the details of the 400 on url", () => {
    const error = refusal("http://example.com/in");
    expect(error.message).toBe('url scheme "http" is not one of ftp, ftps, sftp');
    expect(error.details).toStrictEqual([
      { path: "url", message: 'scheme "http" is not one of ftp, ftps, sftp' },
    ]);
  });

  it.each([
    ["http://example.com/in", /^url scheme "http" is not one of ftp, ftps, sftp$/],
    ["x-ftp://example.com/in", /^url must be ftp:\/\/, ftps:\/\/ or sftp:\/\/ followed by a host/],
    ["ftp:/example.com", /^url must be ftp:\/\/, ftps:\/\/ or sftp:\/\/ followed by a host/],
    ["ftp://example.com/in?x=1", /^url must be .* with no query or fragment$/],
    ["ftp://example.com/in#x", /^url must be .* with no query or fragment$/],
    ["ftp://user:secret@example.com/in", /^url must not carry credentials/],
    ["ftp://user@example.com/in", /^url must not carry credentials/],
    ["ftp://example.com:0/in", /^url port must be 1-65535$/],
    ["ftp://example.com:65536/in", /^url port must be 1-65535$/],
    ["ftp://example.com:/in", /^url must name a host, and a port of digits if any$/],
    ["ftp://example.com:21:21/in", /^url must name a host, and a port of digits if any$/],
    ["ftp://exa_mple.com/in", /^url host "exa_mple.com" is not a host name/],
    ["ftp://-example.com/in", /^url host "-example.com" is not a host name/],
    [`ftp://${hostOfLength(254)}/in`, /^url host "a+\.[a-z.]+" is not a host name/],
    ["ftp://999.1.1.1/in", /^url host 999.1.1.1 is not an IPv4 address$/],
    ["ftp://[not-ipv6]/in", /^url host \[not-ipv6\] is not an IPv6 address$/],
    ["ftp://[1.2.3.4]/in", /^url host \[1.2.3.4\] is not an IPv6 address$/],
    ["ftp://example.com/in/../etc", /^url folder "\.\." must be letters, digits/],
    ["ftp://example.com/./in", /^url folder "\." must be letters, digits/],
    ["ftp://example.com/in%20box", /^url folder "in%20box" must be letters, digits/],
    ["ftp://example.com/in box", /^url folder "in box" must be letters, digits/],
    ["ftp://example.com/~/in", /^url '~' may only be an SFTP URL's first folder/],
    ["sftp://example.com/in/~", /^url '~' may only be an SFTP URL's first folder/],
    ["sftp://example.com/~alice/in", /^url '~' may only be an SFTP URL's first folder/],
    [urlOfLength(2_049), /^url must be at most 2048 characters$/],
  ])("refuses %s", (url, reason) => {
    expect(refusal(url).message).toMatch(reason);
  });
});

describe("isPublicAddress", () => {
  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "::FFFF:8.8.8.8",
    "::ffff:808:808",
    // The IPv4 addresses just outside each range that is not public.
    "1.0.0.0",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "191.255.255.255",
    "192.0.1.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
  ])("takes %s as public", (ip) => {
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
    "::ffff:7f00:1",
    "::FFFF:169.254.169.254",
    "0:0:0:0:0:ffff:a00:1",
    // Not public even though their last 32 bits spell a public IPv4 address: only ::ffff: maps.
    "fe80::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    // The first and last addresses of each range.
    "0.255.255.255",
    "10.0.0.0",
    "10.255.255.255",
    "100.64.0.0",
    "100.127.255.255",
    "127.255.255.255",
    "169.254.0.0",
    "169.254.255.255",
    "172.16.0.0",
    "172.31.255.255",
    "192.0.0.0",
    "192.0.0.255",
    "192.168.0.0",
    "192.168.255.255",
    "198.18.0.0",
    "198.19.255.255",
    "224.0.0.0",
    "fc00::",
    "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::",
    "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "ff00::",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "64:ff9b::",
    "64:ff9b::ffff:ffff",
    "not an address",
    "::ffff:8.8.8.8x",
    "",
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
