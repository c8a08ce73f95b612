import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { Session } from '../runtime/session.js';
import { type AugmentConfig, checkAugmentConfig, drawAugment } from './augment.js';
import { AUGMENT_IO, augmentFeeds, buildAugmentGraph } from './augment-graph.js';
import { augmentRng, shuffleRng } from './derived-rng.js';
import type { ImageStore } from './image-store.js';
import { packBatch } from './pack-batch.js';

/**
 * Images per run of the batch graph. Its hundred-odd elementwise passes are memory-bound; over 8
 * images at a time their planes stay in cache (measured on 2 cores, MobileNetV2 at 224, one epoch of the
 * loader alone: 4.2 s in runs of 32, 2.6 s in runs of 8, 2.8 s of 4, 3.8 s of 2). Each image's ops are
 * its own, so the batch is the same bit for bit.
 */
const CHUNK = 8;

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
  /**
   * ONNX Runtime threads for the batch graph; default 1. Its elementwise passes are memory-bound, and
   * a second thread slows them (measured on 2 cores, one epoch of MobileNetV2 at 224: 2.4-3.1 s on one
   * thread, 3.6-3.7 s on two).
   */
  threads?: number;
}

/**
 * A store's images as an epoch serves them, a batch at a time: image i of epoch e augmented from the
 * generator of (seed, e, i) when training, then normalised, all by one augment-graph session over the
 * batch. BatchLoader (Node) and MemoryBatches (the browser's Web Worker, on onnxruntime-web) both serve
 * through it, so the same store and seed give the same batches in both.
 */
export class EpochImages {
  private constructor(
    private readonly store: ImageStore,
    private readonly opts: EpochImageOptions,
    private readonly session: Session,
  ) {}

  static async open(store: ImageStore, opts: EpochImageOptions): Promise<EpochImages> {
    if (opts.augment) checkAugmentConfig(opts.augment);
    if (store.size.join() !== opts.preprocess.size.join())
      throw new Error(
        `epoch images: the images are ${store.size.join('x')}, the model wants ${opts.preprocess.size.join('x')}`,
      );
    const graph = buildAugmentGraph(opts.preprocess.size, opts.preprocess, opts.augment);
    // No arena: it would hold its largest batches' intermediates (100-200 MiB) through every train step.
    const session = await Session.create(graph, { threads: opts.threads ?? 1, memArena: false });
    return new EpochImages(store, opts, session);
  }

  /** Images `indices` of the store as epoch `epoch` serves them: [N,3,H,W] in that order. */
  async batch(epoch: number, indices: readonly number[]): Promise<Tensor<'float32'>> {
    const { augment, seed, preprocess } = this.opts;
    const parts: Float32Array[] = [];
    for (let at = 0; at < indices.length; at += CHUNK) {
      const chunk = indices.slice(at, at + CHUNK);
      const draws =
        augment && chunk.map((i) => drawAugment(augment, augmentRng(seed, epoch, i), preprocess.size));
      const images = chunk.map((i) => this.store.image(i).rgb);
      const out = await this.session.run(augmentFeeds(images, preprocess.size, augment, draws));
      parts.push(out[AUGMENT_IO.output].data as Float32Array);
    }
    return packBatch(parts, preprocess.size);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
