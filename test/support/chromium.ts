/**
 * Headless Chromium for browser tests: Debian's `chromium` package, driven by playwright-core.
 * Playwright's own browser download needs hosts our machines cannot reach; the distribution's
 * package comes from the same mirror as everything else. CI runs on a fresh machine, so a missing
 * browser is installed here rather than the test being skipped.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Installs Debian's chromium if it is not there (as root, as on our machines and CI). */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const install = () =>
    execFileSync("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  try {
    install();
  } catch {
    // A fresh machine's package lists may be missing or stale.
    execFileSync("apt-get", ["update"], { stdio: "inherit" });
    install();
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
  ensureChromium();
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
