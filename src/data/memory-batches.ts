import type { Preprocess } from '../models/backbone.js';
import { type AugmentConfig, Augmenter } from './augment.js';
import { epochImage, epochOrder } from './epoch-images.js';
import type { ImageStore } from './image-store.js';
import type { Batch } from './loader.js';
import { packBatch } from './pack-batch.js';

export interface MemoryBatchOptions {
  preprocess: Preprocess;
  batchSize: number;
  augment?: AugmentConfig;
  shuffle?: boolean;
  seed: number;
  /** Awaited before each batch: the browser's worker yields to its message queue there (Stop). */
  beforeBatch?: () => Promise<void>;
}

/**
 * The loader's batches from decoded images already in memory, prepared on the calling thread: the same
 * order, augmentation and normalisation as BatchLoader's for the same store and seed (one definition of
 * each in epoch-images), for a Web Worker that has no worker threads of its own.
 */
export class MemoryBatches {
  readonly waitMs = 0;
  private readonly augmenter?: Augmenter;

  constructor(
    private readonly store: ImageStore,
    private readonly labels: Int32Array,
    private readonly names: readonly string[],
    private readonly opts: MemoryBatchOptions,
  ) {
    if (labels.length !== store.count || names.length !== store.count)
      throw new Error(`MemoryBatches: ${store.count} images, ${labels.length} labels, ${names.length} names`);
    this.augmenter = opts.augment ? new Augmenter(opts.augment) : undefined;
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.store.count / this.opts.batchSize);
  }

  async *epoch(epoch: number, fromBatch = 0): AsyncGenerator<Batch, void, undefined> {
    const { batchSize, seed, preprocess } = this.opts;
    const order = epochOrder(this.store.count, Boolean(this.opts.shuffle), seed, epoch);
    for (let start = fromBatch * batchSize; start < order.length; start += batchSize) {
      await this.opts.beforeBatch?.();
      const indices = order.slice(start, start + batchSize);
      const parts = indices.map((i) => epochImage(this.store, i, epoch, seed, preprocess, this.augmenter));
      yield {
        input: packBatch(parts, preprocess.size),
        labels: Int32Array.from(indices, (i) => this.labels[i]),
        paths: indices.map((i) => this.names[i]),
      };
    }
  }
}
