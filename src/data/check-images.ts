import { decodeResized } from './image.js';
import { MAX_INPUT_PIXELS } from './image-error.js';
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
 * one-line error naming the file) and keeps the pixels. Under 'fail' no new file starts after a
 * failure; those in flight finish, so every file before the first bad one has been tried.
 */
export async function checkImages(samples: Sample[], opts: CheckImagesOptions): Promise<CheckedImages> {
  const maxPixels = opts.maxPixels ?? MAX_INPUT_PIXELS;
  if (!(maxPixels > 0 && maxPixels <= MAX_INPUT_PIXELS)) {
    throw new Error(`checkImages: maxPixels ${maxPixels} must be in (0, ${MAX_INPUT_PIXELS}]`);
  }
  // Shared, so that a loader's augmentation workers read the images where they are.
  const store = new ImageStore(
    samples.length,
    opts.size,
    new SharedArrayBuffer(samples.length * opts.size[0] * opts.size[1] * 3),
  );
  const errors: (Error | undefined)[] = [];
  let next = 0;
  const drain = async () => {
    while (next < samples.length && !(opts.onBadImage === 'fail' && errors.some(Boolean))) {
      const i = next++;
      try {
        store.set(i, (await decodeResized(samples[i].path, opts.size, samples[i].path, { maxPixels })).rgb);
      } catch (e) {
        errors[i] = e as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, drain));
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
