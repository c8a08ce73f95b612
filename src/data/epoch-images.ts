import type { Preprocess } from '../models/backbone.js';
import type { Augmenter } from './augment.js';
import { augmentRng, shuffleRng } from './derived-rng.js';
import type { ImageStore } from './image-store.js';
import { toCHW } from './to-chw.js';

/** The sample indices 0..count-1 of epoch `epoch` in serving order: shuffled by (seed, epoch), or as given. */
export function epochOrder(count: number, shuffle: boolean, seed: number, epoch: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return shuffle ? shuffleRng(seed, epoch).shuffle(order) : order;
}

/**
 * Image `index` of the store as epoch `epoch` serves it: augmented from the generator of
 * (seed, epoch, index) when training, then normalised to planar CHW.
 */
export function epochImage(
  store: ImageStore,
  index: number,
  epoch: number,
  seed: number,
  preprocess: Preprocess,
  augmenter?: Augmenter,
): Float32Array {
  const img = store.image(index);
  const rgb = augmenter ? augmenter.apply(img, augmentRng(seed, epoch, index)).rgb : img.rgb;
  return toCHW(rgb, preprocess.size, preprocess);
}
