// `npm run pack` (and `baton init` in a checkout): the package tarball, built afresh, packed from
// a staging folder that holds what package.json's `files` ship (dist/, README.md) and a
// package.json without `scripts`, `devDependencies` or `allowScripts`. A project installing the
// tarball then has no install script to allow (npm would warn of `prepare`), and the checkout's
// own package.json is never touched, so an interrupted pack leaves nothing to put back.
//
//   node scripts/pack.mjs [--destination <dir>] [--no-build]
//
// Prints the tarball's path; the build's lines go to stderr.
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({
  options: {
    destination: { type: "string" },
    "no-build": { type: "boolean" },
  },
});
const root = fileURLToPath(new URL("..", import.meta.url));
const destination = resolve(flags.destination ?? process.cwd());

if (flags["no-build"] !== true) {
  const built = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], {
    stdio: ["ignore", process.stderr, process.stderr],
  });
  if (built.status !== 0) {
    console.error("the build failed: nothing was packed");
    process.exit(1);
  }
}

const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const { scripts: _scripts, devDependencies: _dev, allowScripts: _allow, ...shipped } = manifest;
const staging = mkdtempSync(join(tmpdir(), "baton-pack-"));
try {
  for (const path of ["dist", "README.md"]) {
    cpSync(join(root, path), join(staging, path), {
      recursive: true,
      filter: (source) => !source.endsWith(".tmp"),
    });
  }
  writeFileSync(join(staging, "package.json"), `${JSON.stringify(shipped, null, 2)}\n`);
  mkdirSync(destination, { recursive: true });
  // npm's own packer (file list, tarball layout); the staging folder has no scripts to run.
  const packed = JSON.parse(
    execFileSync("npm", ["pack", staging, "--ignore-scripts", "--json", "--pack-destination", destination], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      shell: process.platform === "win32",
    }),
  );
  console.log(join(destination, packed[0].filename));
} finally {
  rmSync(staging, { recursive: true, force: true });
}
