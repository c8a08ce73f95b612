import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's Chromium (or SMOKER_CHROMIUM), driven by playwright-core. */
export const CHROMIUM = process.env.SMOKER_CHROMIUM ?? '/usr/bin/chromium';

/** node:test's `skip` for tests that need Chromium. */
export const chromiumSkip = existsSync(CHROMIUM)
  ? false
  : `needs Chromium at ${CHROMIUM} (apt-get install chromium, or set SMOKER_CHROMIUM); skipped`;

/** A host name for this machine that is not localhost, so a page served under it over http is not secure. */
export const INSECURE_HOST = 'insecure.test';

/** A running Chromium: its one context, and `close`, which also removes its profile folder. */
export interface Chromium {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * A headless Chromium with a temporary profile folder of its own: no network of its own, a synthetic
 * webcam. The folder goes only once the browser has exited, since Chromium writes to it until then.
 */
export async function launchChromium(): Promise<Chromium> {
  const profile = mkdtempSync(join(tmpdir(), 'smoker-chromium-'));
  const remove = () => rmSync(profile, { recursive: true, force: true });
  const context = await chromium
    .launchPersistentContext(profile, {
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
    })
    .catch((e: unknown) => {
      remove();
      throw e;
    });
  return {
    context,
    close: async () => {
      await context.close();
      remove();
    },
  };
}
