import type { Preprocess } from '../models/backbone.js';
import type { AugmentConfig } from './augment.js';
import type { KernelModule } from './augment-kernel.js';
import { EpochImages, epochOrder } from './epoch-images.js';
import type { ImageStore } from './image-store.js';
import type { Batch } from './loader.js';
import { SpareBuffers } from './spare-buffers.js';

export interface MemoryBatchOptions {
  preprocess: Preprocess;
  batchSize: number;
  augment?: AugmentConfig;
  shuffle?: boolean;
  seed: number;
  /** augment-kernel.wasm, compiled (compileKernel of its fetched bytes). */
  kernel: KernelModule;
  /** ONNX Runtime threads for TrivialAugment's graph; default 1 (see EpochImages). */
  threads?: number;
  /** Awaited before each batch: the browser's worker yields to its message queue there (Stop). */
  beforeBatch?: () => Promise<void>;
}

/**
 * The loader's batches from decoded images already in memory, for a Web Worker that cannot decode
 * with sharp: the same order, augmentation and normalisation as BatchLoader's for the same store and
 * seed (both serve through EpochImages).
 */
export class MemoryBatches {
  readonly waitMs = 0;
  /** Batches' pixels handed back (recycle): each batch is prepared when asked for, so one at a time. */
  private readonly spare: SpareBuffers;

  private constructor(
    private readonly store: ImageStore,
    private readonly labels: Int32Array,
    private readonly names: readonly string[],
    private readonly opts: MemoryBatchOptions,
    private readonly images: EpochImages,
  ) {
    this.spare = new SpareBuffers(1, opts.preprocess.size);
  }

  static async open(
    store: ImageStore,
    labels: Int32Array,
    names: readonly string[],
    opts: MemoryBatchOptions,
  ): Promise<MemoryBatches> {
    if (labels.length !== store.count || names.length !== store.count)
      throw new Error(`MemoryBatches: ${store.count} images, ${labels.length} labels, ${names.length} names`);
    return new MemoryBatches(store, labels, names, opts, await EpochImages.open(store, opts));
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.store.count / this.opts.batchSize);
  }

  async *epoch(epoch: number, fromBatch = 0): AsyncGenerator<Batch, void, undefined> {
    const { batchSize, seed } = this.opts;
    const order = epochOrder(this.store.count, Boolean(this.opts.shuffle), seed, epoch);
    for (let start = fromBatch * batchSize; start < order.length; start += batchSize) {
      await this.opts.beforeBatch?.();
      const indices = order.slice(start, start + batchSize);
      yield {
        input: await this.images.batch(epoch, indices, this.spare.take(indices.length)),
        labels: Int32Array.from(indices, (i) => this.labels[i]),
        paths: indices.map((i) => this.names[i]),
      };
    }
  }

  /** Takes back a batch its consumer is done with, as BatchLoader.recycle: its pixels then change. */
  recycle(batch: Batch): void {
    this.spare.give(batch.input.data);
  }

  /** Releases TrivialAugment's session, if any. */
  release(): Promise<void> {
    return this.images.release();
  }
}
