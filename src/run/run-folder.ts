import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { RUN_FILES } from './files.js';

/** What a folder given as --out holds. */
export type RunFolderState = 'new' | 'unfinished' | 'finished';

/** Files a run folder may hold: its own, an earlier refused start's, temp files, evaluation folders. */
const OURS = new Set<string>(Object.values(RUN_FILES));
const isOurs = (name: string) =>
  OURS.has(name) || /^\..*\.(tmp|part)$/.test(name) || /^evaluation-/.test(name);

/**
 * Checks that `out` can hold a run of the data in `data`, before anything is built or written: it is
 * not inside the data folder (its plots would be read as data next time), it is a folder or can be
 * one, and it holds no files but a run folder's. Returns whether it holds nothing yet, an unfinished
 * run (a checkpoint) or a finished one (a model); the caller decides what each means.
 */
export function checkRunFolder(out: string, data: string): RunFolderState {
  const [o, d] = [resolve(out), resolve(data)];
  if (o === d || o.startsWith(d + sep))
    throw new Error(
      `--out ${out}: is inside the data folder ${data}, where its files would be read as data next time; choose a folder outside it`,
    );
  const stat = statSync(o, { throwIfNoEntry: false });
  if (!stat) return 'new';
  if (!stat.isDirectory()) throw new Error(`--out ${out}: is a file, not a folder; choose a folder`);
  const foreign = readdirSync(o).filter((n) => !isOurs(n));
  if (foreign.length > 0) {
    const some = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ', …' : '');
    throw new Error(
      `--out ${out}: holds files that are not a run's (${some}); choose an empty folder or a new one, so nothing is overwritten`,
    );
  }
  if (existsSync(join(o, RUN_FILES.checkpoint))) return 'unfinished';
  if (existsSync(join(o, RUN_FILES.model))) return 'finished';
  return 'new';
}

/**
 * Creates `out` one level at a time from its nearest existing ancestor (Node's recursive mkdir loops
 * on some pseudo file systems, such as /proc), within `timeoutMs`; a folder that cannot be made is a
 * one-line error naming it.
 */
export async function createRunFolder(out: string, timeoutMs = 10_000): Promise<void> {
  const missing: string[] = [];
  for (let dir = resolve(out); !existsSync(dir); dir = dirname(dir)) missing.unshift(dir);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    for (const dir of missing) await Promise.race([mkdir(dir), timeout]);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const at = missing.find((d) => !existsSync(d));
    throw new Error(
      `--out ${out}: cannot create ${at && relative(resolve(out), at) ? at : 'it'} (${err.code ?? err.message}); choose a folder you can write to`,
    );
  } finally {
    clearTimeout(timer);
  }
}
