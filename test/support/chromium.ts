/**
 * Headless Chromium for browser tests: Debian's `chromium` package, driven by playwright-core.
 * Playwright's own browser download needs hosts our machines cannot reach; the distribution's
 * package comes from the same mirror as everything else. CI runs on a fresh machine, so a missing
 * browser is installed here rather than the test being skipped.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** How long a first install may take on a fresh machine (apt-get update, then the package). */
export const CHROMIUM_INSTALL_MS = 10 * 60_000;

/** Held while one test process checks for, and installs, the browser. */
const INSTALL_LOCK = join(tmpdir(), "baton-chromium-install.lock");

/**
 * Installs Debian's chromium if it is not there (as root, as on our machines and CI). Async, so a
 * long install does not block the test worker; the caller's hook gets CHROMIUM_INSTALL_MS.
 * Browser test files run side by side: the check and the install happen under one lock (flock),
 * so a second file neither fails on dpkg's lock nor launches a browser that is half unpacked.
 */
export async function ensureChromium(): Promise<void> {
  const apt = "apt-get -o DPkg::Lock::Timeout=600";
  const install = `${apt} install -y --no-install-recommends chromium`;
  // A fresh machine's package lists may be missing or stale: update, then try again.
  const script = `[ -x ${CHROMIUM} ] || ${install} || { ${apt} update && ${install}; }`;
  if (!existsSync(CHROMIUM))
    console.info(`${CHROMIUM} is missing: installing Debian's chromium with apt-get`);
  await promisify(execFile)("flock", [INSTALL_LOCK, "sh", "-c", script], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 << 20,
  });
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, yet ${CHROMIUM} is missing`);
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * A headless browser with a fresh profile. The flags keep it from calling home (updates, sync,
 * QUIC probes): on a machine without a network those calls fail and slow everything down.
 */
export async function launchBrowser(): Promise<Browser> {
  await ensureChromium();
  const profile = mkdtempSync(join(tmpdir(), "baton-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
