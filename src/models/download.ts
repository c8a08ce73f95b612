import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
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
 * Downloads `url` into `cacheDir` under its own file name, or returns the file already there. The body
 * streams to a temp file beside the target while it is hashed; a name with a hash prefix must match the
 * sha256 (as torch.hub checks it), and only then is the file renamed into place, so whatever sits at the
 * cached path is complete and verified.
 */
export async function downloadCached(url: string, cacheDir = defaultCacheDir()): Promise<string> {
  const fail = (reason: string) =>
    new Error(`cannot download ${url} (${reason}); download it yourself and pass --weights <path>`);
  const name = basename(new URL(url).pathname);
  if (!name) throw fail('the URL names no file');
  const dest = join(cacheDir, name);
  if (existsSync(dest)) return dest;

  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
    throw fail(cause?.code ?? cause?.message ?? (e as Error).message);
  }
  if (!res.ok || !res.body) throw fail(`HTTP ${res.status} ${res.statusText}`.trim());

  await mkdir(cacheDir, { recursive: true });
  const tmp = join(cacheDir, `.${name}.${randomBytes(4).toString('hex')}.part`);
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
    const expected = HASH_IN_NAME.exec(name)?.[1];
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
