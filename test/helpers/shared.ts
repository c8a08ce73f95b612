import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The read-only ../shared folder beside the repo (tests run from dist/test/...). */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SHARED = process.env.SMOKER_SHARED ?? join(repoRoot, '..', 'shared');

/** Path inside ../shared, or a `skip` reason for node:test when it is absent. */
export function sharedPath(rel: string): { path: string; skip: string | false } {
  const path = join(SHARED, rel);
  return { path, skip: existsSync(path) ? false : `needs ${path} (../shared beside the repo); skipped` };
}
