/** One `baton dev` per data folder: the pid lock file, and taking over a dead owner's lock. */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { DataDirLockedError, LOCK_FILE, lockDataDir } from "../../../local/dev-lock.ts";

const folder = () => mkdtempSync(join(tmpdir(), "baton-lock-"));
/** A pid no process has (above any system's pid_max), standing in for a SIGKILLed owner's. */
const deadPid = () => 2_147_483_646;

it("writes the owner's pid, refuses a second owner while the first lives, and releases", () => {
  const dataDir = folder();
  const lock = lockDataDir(dataDir);
  expect(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
  // Another live process (the test runner's parent stands in for a second baton dev).
  const error = (() => {
    try {
      lockDataDir(dataDir, process.ppid);
    } catch (caught) {
      return caught;
    }
  })();
  expect(error).toBeInstanceOf(DataDirLockedError);
  expect((error as DataDirLockedError).holderPid).toBe(process.pid);
  lock.release();
  expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false);
});

it("takes over a lock whose pid is dead, or which holds no pid at all", () => {
  const dataDir = folder();
  writeFileSync(join(dataDir, LOCK_FILE), `${deadPid()}\n`);
  lockDataDir(dataDir).release();
  writeFileSync(join(dataDir, LOCK_FILE), "");
  const lock = lockDataDir(dataDir);
  expect(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
  lock.release();
});

it("leaves a lock alone on release when another process holds it now", () => {
  const dataDir = folder();
  const lock = lockDataDir(dataDir);
  writeFileSync(join(dataDir, LOCK_FILE), `${process.ppid}\n`);
  lock.release();
  expect(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim()).toBe(String(process.ppid));
});
