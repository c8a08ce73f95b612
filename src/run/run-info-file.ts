import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../weights/atomic-write.js';
import { RUN_FILES } from './files.js';
import { parseRunInfo, type RunInfo } from './run-info.js';

export async function writeRunInfo(dir: string, info: RunInfo): Promise<void> {
  await writeFileAtomic(
    join(dir, RUN_FILES.config),
    new TextEncoder().encode(JSON.stringify(info, null, 2) + '\n'),
  );
}

/**
 * A run folder's config.json, checked field by field: a missing field, a wrong type or a value out of
 * range is a one-line error naming the file and the field.
 */
export async function readRunInfo(dir: string): Promise<RunInfo> {
  const path = join(dir, RUN_FILES.config);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(
      `--model ${dir}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); pass a run folder written by 'smoker-lora train'`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseRunInfo(raw, path);
}
