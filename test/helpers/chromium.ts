import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (or SMOKER_CHROMIUM), driven by playwright-core. */
export const CHROMIUM = process.env.SMOKER_CHROMIUM ?? '/usr/bin/chromium';

/** node:test's `skip` for tests that need Chromium. */
export const chromiumSkip = existsSync(CHROMIUM)
  ? false
  : `needs Chromium at ${CHROMIUM} (apt-get install chromium, or set SMOKER_CHROMIUM); skipped`;

/** A host name for this machine that is not localhost, so a page served under it over http is not secure. */
export const INSECURE_HOST = 'insecure.test';

/** A headless Chromium with its own profile folder: no network of its own, a synthetic webcam. */
export function launchChromium(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // A synthetic camera that needs no permission prompt, for the webcam path.
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`,
    ],
    viewport: { width: 1100, height: 900 },
  });
}
