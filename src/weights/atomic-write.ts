import { randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Replaces `path` with `bytes` so that readers only ever see the old file or the complete
 * new one: write a temp file beside it, fsync, then rename over it. On any failure the temp
 * file is removed and the old file is untouched.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  // Same directory keeps rename atomic (one filesystem); the short random suffix keeps
  // concurrent writers apart and the name within NAME_MAX.
  const tmp = join(dirname(path), `.${basename(path).slice(0, 200)}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
    await fh.writeFile(bytes);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new Error(`${path}: could not save: ${oneLine(e)}`);
  }
  await syncDir(dirname(path));
}

/** Makes the rename itself durable. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // Best effort: some filesystems refuse to fsync a directory, and the file is already in place.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ');
}
