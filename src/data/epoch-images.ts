import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { type AugmentConfig, drawAugment } from './augment.js';
import type { KernelModule } from './augment-kernel.js';
import { Augmenter } from './augmenter.js';
import { augmentRng, shuffleRng } from './derived-rng.js';
import type { ImageStore } from './image-store.js';

/** The sample indices 0..count-1 of epoch `epoch` in serving order: shuffled by (seed, epoch), or as given. */
export function epochOrder(count: number, shuffle: boolean, seed: number, epoch: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  return shuffle ? shuffleRng(seed, epoch).shuffle(order) : order;
}

export interface EpochImageOptions {
  preprocess: Preprocess;
  /** Training augmentation; omit for normalisation only. */
  augment?: AugmentConfig;
  seed: number;
  /** augment-kernel.wasm, compiled (augmentKernelModule() in Node; the browser's worker fetches it). */
  kernel: KernelModule;
  /** ONNX Runtime threads for TrivialAugment's graph; default 1 (see Augmenter). */
  threads?: number;
}

/**
 * A store's images as an epoch serves them, a batch at a time: image i of epoch e augmented from the
 * generator of (seed, e, i) when training, then normalised (Augmenter). BatchLoader (Node) and
 * MemoryBatches (the browser's Web Worker) both serve through it, so the same store and seed give the
 * same batches in both.
 */
export class EpochImages {
  private constructor(
    private readonly store: ImageStore,
    private readonly opts: EpochImageOptions,
    private readonly augmenter: Augmenter,
  ) {}

  static async open(store: ImageStore, opts: EpochImageOptions): Promise<EpochImages> {
    if (store.size.join() !== opts.preprocess.size.join())
      throw new Error(
        `epoch images: the images are ${store.size.join('x')}, the model wants ${opts.preprocess.size.join('x')}`,
      );
    const augmenter = await Augmenter.open(opts.kernel, opts.preprocess, opts.augment, opts.threads ?? 1);
    return new EpochImages(store, opts, augmenter);
  }

  /** Images `indices` of the store as epoch `epoch` serves them: [N,3,H,W] in that order, in `into` if given. */
  batch(epoch: number, indices: readonly number[], into?: Float32Array): Promise<Tensor<'float32'>> {
    const { augment, seed, preprocess } = this.opts;
    const draws =
      augment && indices.map((i) => drawAugment(augment, augmentRng(seed, epoch, i), preprocess.size));
    return this.augmenter.run(
      indices.map((i) => this.store.image(i).rgb),
      draws,
      into,
    );
  }

  release(): Promise<void> {
    return this.augmenter.release();
  }
}
