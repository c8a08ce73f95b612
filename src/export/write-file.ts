import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../weights/atomic-write.js';

/** Writes `rel` under `root` atomically, making its folders, and returns `rel`. */
export async function writeExportFile(root: string, rel: string, data: Uint8Array | string): Promise<string> {
  const path = join(root, rel);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, typeof data === 'string' ? new TextEncoder().encode(data) : data);
  return rel;
}

export const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';
