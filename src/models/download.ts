import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';

/** torchvision's convention: `resnet18-f37072fd.pth` carries a prefix of its own sha256 hex digest. */
const HASH_IN_NAME = /-([a-f0-9]+)\./;

/** Where downloaded weights live: $SMOKER_LORA_CACHE, else ~/.cache/smoker-lora. */
export function defaultCacheDir(): string {
  return process.env.SMOKER_LORA_CACHE || join(homedir(), '.cache', 'smoker-lora');
}

/**
 * Where `url` is cached: a folder named by the URL's own hash (so two URLs ending in the same file
 * name never share an entry), holding the file under its own name (whose extension says its type).
 */
function cachePath(url: string, cacheDir = defaultCacheDir()): string {
  const href = new URL(url).href;
  const key = createHash('sha256').update(href).digest('hex').slice(0, 16);
  return join(cacheDir, key, basename(new URL(href).pathname));
}

/**
 * Downloads `url` into the cache, or returns the file already cached for that URL. The body streams
 * to a temp file beside the target while it is hashed; a name with a hash prefix must match the
 * sha256 (as torch.hub checks it), and only then is the file renamed into place, so whatever sits at
 * the cached path is complete. A cached file whose name carries a hash is checked again on every hit,
 * and replaced by a fresh download if it no longer matches.
 */
export async function downloadCached(url: string, cacheDir = defaultCacheDir()): Promise<string> {
  const fail = (reason: string) =>
    new Error(`cannot download ${url} (${reason}); download it yourself and pass --weights <path>`);
  const name = basename(new URL(url).pathname);
  if (!name) throw fail('the URL names no file');
  const dest = cachePath(url, cacheDir);
  const expected = HASH_IN_NAME.exec(name)?.[1];
  if (existsSync(dest)) {
    if (!expected || (await fileSha256(dest)).startsWith(expected)) return dest;
    await rm(dest, { force: true });
  }

  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
    throw fail(cause?.code ?? cause?.message ?? (e as Error).message);
  }
  if (!res.ok || !res.body) throw fail(`HTTP ${res.status} ${res.statusText}`.trim());

  await mkdir(dirname(dest), { recursive: true });
  const tmp = join(dirname(dest), `.${name}.${randomBytes(4).toString('hex')}.part`);
  const hash = createHash('sha256');
  try {
    await pipeline(
      Readable.fromWeb(res.body as ReadableStream<Uint8Array>),
      new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      }),
      createWriteStream(tmp, { flags: 'wx' }),
    );
    const digest = hash.digest('hex');
    if (expected && !digest.startsWith(expected)) {
      throw new Error(`checksum mismatch: sha256 ${digest} does not start with ${expected}`);
    }
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw fail((e as Error).message.replace(/\s+/g, ' '));
  }
  return dest;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
