import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The newest profile ORT wrote for `prefix` (it names them `<prefix>_<timestamp>.json`). */
export function latestProfile(prefix: string): string {
  const dir = dirname(prefix);
  const mine = readdirSync(dir)
    .filter((f) => f.startsWith(basename(prefix)) && f.endsWith('.json'))
    .map((f) => join(dir, f));
  if (mine.length === 0) throw new Error(`${prefix}: no ORT profile written`);
  return mine.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}
