import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeResized, MAX_INPUT_PIXELS } from './image.js';
import { ImageStore } from './image-store.js';
import type { Sample } from './sample.js';

export type BadImagePolicy = 'skip' | 'fail';

export interface CheckImagesOptions {
  /** 'fail': throw the first bad file's error; 'skip': drop bad files and list them. */
  onBadImage: BadImagePolicy;
  /** [height, width] to decode to (the backbone's input size). */
  size: [number, number];
  /** Refuse larger source images; at most decodeResized's own limit, MAX_INPUT_PIXELS (the default). */
  maxPixels?: number;
  /** Files decoded at once; sharp decodes on its own threads, so this only keeps them busy. */
  concurrency?: number;
}

export interface SkippedImage {
  path: string;
  reason: string;
}

export interface CheckedImages {
  /** The samples that decoded, in their original order. */
  samples: Sample[];
  skipped: SkippedImage[];
  /** `samples[i]` decoded and resized, as image i: the loader's cache, so nothing is decoded twice. */
  images: ImageStore;
}

/**
 * Decodes every sample once (corrupt, truncated, empty, non-image and over-large files fail with a
 * one-line error naming the file) and keeps the pixels.
 */
export async function checkImages(samples: Sample[], opts: CheckImagesOptions): Promise<CheckedImages> {
  const maxPixels = opts.maxPixels ?? MAX_INPUT_PIXELS;
  if (!(maxPixels > 0 && maxPixels <= MAX_INPUT_PIXELS)) {
    throw new Error(`checkImages: maxPixels ${maxPixels} must be in (0, ${MAX_INPUT_PIXELS}]`);
  }
  const store = new ImageStore(samples.length, opts.size);
  const tryDecode = async (i: number): Promise<Error | undefined> => {
    try {
      store.set(i, (await decodeChecked(samples[i].path, opts.size, maxPixels)).rgb);
    } catch (e) {
      return e as Error;
    }
  };
  const errors: (Error | undefined)[] = [];
  let next = 0;
  while (next < samples.length) {
    const round = await decodeRound(next, samples.length, opts, tryDecode);
    next = round.next;
    // libvips keeps one error message for all threads, so a failure while other files decode can come
    // back as 'Unknown error'. Each failure is decoded again alone: its reason is then exact, and a
    // failure that was not the file's fault goes away.
    for (const i of round.failed) errors[i] = await tryDecode(i);
    if (opts.onBadImage === 'fail' && errors.some(Boolean)) break;
  }
  const bad = samples.flatMap((s, i) => (errors[i] ? [{ path: s.path, error: errors[i]! }] : []));
  if (opts.onBadImage === 'fail' && bad.length > 0) {
    throw new Error(`${bad[0].error.message}; remove or replace the file, or skip bad images`);
  }
  const keep = samples.flatMap((_, i) => (errors[i] ? [] : [i]));
  return {
    samples: keep.map((i) => samples[i]),
    skipped: bad.map((b) => ({ path: b.path, reason: b.error.message.replace(`${b.path}: `, '') })),
    images: bad.length > 0 ? store.compact(keep) : store,
  };
}

/**
 * Decodes samples from `from` on, `concurrency` at a time. Under 'fail' no new file starts after a
 * failure; those in flight finish, so every file before the first bad one has been tried.
 */
async function decodeRound(
  from: number,
  count: number,
  opts: CheckImagesOptions,
  tryDecode: (i: number) => Promise<Error | undefined>,
): Promise<{ failed: number[]; next: number }> {
  const failed: number[] = [];
  let next = from;
  const drain = async () => {
    while (next < count && !(opts.onBadImage === 'fail' && failed.length > 0)) {
      const i = next++;
      if (await tryDecode(i)) failed.push(i);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, drain));
  return { failed: failed.sort((a, b) => a - b), next };
}

async function decodeChecked(path: string, size: [number, number], maxPixels: number) {
  if (maxPixels === MAX_INPUT_PIXELS) return decodeResized(path, size);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return decodeResized(path, size); // for its one-line read error
  }
  const dims = await sourceSize(bytes);
  if (dims && dims.width * dims.height > maxPixels) {
    throw new Error(
      `${path}: image too large (${dims.width}x${dims.height}, over ${maxPixels / 1e6} megapixels)`,
    );
  }
  return decodeResized(bytes, size, path);
}

/** The stored size from the header alone (BMP read here, as sharp cannot), or undefined when unreadable. */
async function sourceSize(b: Buffer): Promise<{ width: number; height: number } | undefined> {
  if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) {
    return { width: Math.abs(b.readInt32LE(18)), height: Math.abs(b.readInt32LE(22)) };
  }
  try {
    const { width, height } = await sharp(b).metadata();
    return width && height ? { width, height } : undefined;
  } catch {
    return undefined; // decodeResized gives the reason
  }
}
