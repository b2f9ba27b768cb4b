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

/**
 * Installs Debian's chromium if it is not there (as root, as on our machines and CI). Async, so a
 * long install does not block the test worker; the caller's hook gets CHROMIUM_INSTALL_MS.
 */
export async function ensureChromium(): Promise<void> {
  if (existsSync(CHROMIUM)) return;
  const run = promisify(execFile);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () =>
    run("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], { env, maxBuffer: 64 << 20 });
  console.info(`${CHROMIUM} is missing: installing Debian's chromium with apt-get`);
  try {
    await install();
  } catch {
    // A fresh machine's package lists may be missing or stale.
    await run("apt-get", ["update"], { env, maxBuffer: 64 << 20 });
    await install();
  }
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
