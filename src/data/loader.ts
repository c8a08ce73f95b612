import { performance } from 'node:perf_hooks';
import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { type AugmentConfig, checkAugmentConfig } from './augment.js';
import { augmentKernelModule } from './augment-kernel-file.js';
import { AugmentPool } from './augment-pool.js';
import { type BadImagePolicy, type CheckedImages, checkImages, type SkippedImage } from './check-images.js';
import { EpochImages, epochOrder } from './epoch-images.js';
import type { Sample } from './sample.js';
import { SpareBuffers } from './spare-buffers.js';

/** One batch: normalised images [N,3,H,W], their labels and files, in the same order. */
export interface Batch {
  input: Tensor<'float32'>;
  labels: Int32Array;
  paths: string[];
}

export interface LoaderOptions {
  samples: Sample[];
  preprocess: Preprocess;
  batchSize: number;
  /** Training augmentation; omit for evaluation (decode, resize, normalise only). */
  augment?: AugmentConfig;
  /** Reorder the samples every epoch, seeded by (seed, epoch). Default false. */
  shuffle?: boolean;
  /** Seeds the shuffle and the augmentation. Default 0. */
  seed?: number;
  /** ONNX Runtime threads for TrivialAugment's graph; default 1 (see EpochImages). */
  threads?: number;
  /**
   * Batches prepared ahead of the one being consumed, while its train step runs. Default 0: on 2 cores
   * the augmentation and the step's two ORT threads then contend (bench/train-epoch.ts, MobileNetV2
   * seed recipe: a whole epoch at 83-88% of the step alone's img/s prepared on demand, 79-80% one ahead).
   */
  prefetch?: number;
  /**
   * Worker threads that prepare each batch with this one, its images split between them; default 0
   * (this thread alone). The batches are the same either way.
   */
  workers?: number;
  /** Files that fail to decode: 'fail' (default) throws, 'skip' drops them (see `skipped`). */
  onBadImage?: BadImagePolicy;
  maxPixels?: number;
  /** The result of checkImages(samples, { size: preprocess.size }): reused instead of decoding again. */
  checked?: CheckedImages;
}

/**
 * Feeds a trainer batches. Every image is decoded and resized once, up front (sharp decodes on its own
 * threads), into a cache; each batch's pixels and augmentation draws then go through torchvision's
 * transforms and normalisation (EpochImages: a WebAssembly SIMD kernel, image by image). Sample i's draws in epoch e come from a generator derived from (seed, e, i), so
 * batches do not depend on scheduling, and an epoch can be replayed (e.g. on resume) by asking for it
 * again.
 */
export class BatchLoader {
  private waited = 0;
  private closed = false;
  /** Batches' pixels handed back (recycle); as many as can be in preparation at once. */
  private readonly spare: SpareBuffers;

  private constructor(
    /** The samples served (bad images dropped under 'skip'), indexed as the cache. */
    readonly samples: Sample[],
    readonly skipped: SkippedImage[],
    /** Time spent decoding up front, ms (0 when given `checked`). */
    readonly decodeMs: number,
    private readonly opts: LoaderOptions & { batchSize: number; prefetch: number; seed: number },
    private readonly images: EpochImages | AugmentPool,
  ) {
    this.spare = new SpareBuffers(opts.prefetch + 1, opts.preprocess.size);
  }

  static async open(opts: LoaderOptions): Promise<BatchLoader> {
    const settings = checkOptions(opts);
    const t0 = performance.now();
    const checked =
      opts.checked ??
      (await checkImages(opts.samples, {
        onBadImage: opts.onBadImage ?? 'fail',
        size: opts.preprocess.size,
        maxPixels: opts.maxPixels,
      }));
    const decodeMs = opts.checked ? 0 : performance.now() - t0;
    if (checked.samples.length === 0) throw new Error('loader: every image was bad; nothing to load');
    const { preprocess, augment, seed, threads } = settings;
    const options = { preprocess, augment, seed, threads, kernel: await augmentKernelModule() };
    const images =
      settings.workers > 0
        ? await AugmentPool.open(checked.images, options, settings.workers)
        : await EpochImages.open(checked.images, options);
    return new BatchLoader(checked.samples, checked.skipped, decodeMs, settings, images);
  }

  get batchesPerEpoch(): number {
    return Math.ceil(this.samples.length / this.opts.batchSize);
  }

  /** Total time consumers spent waiting for a batch, ms. */
  get waitMs(): number {
    return this.waited;
  }

  /** The sample indices of epoch `epoch`, in serving order. */
  order(epoch: number): number[] {
    return epochOrder(this.samples.length, Boolean(this.opts.shuffle), this.opts.seed, epoch);
  }

  /**
   * The batches of epoch `epoch` (the last may be smaller), from batch `fromBatch` on (to resume
   * mid-epoch: the earlier ones are not computed), `prefetch` of them in preparation ahead (0: each
   * is prepared when asked for, so it never competes with the consumer for the cores).
   */
  async *epoch(epoch: number, fromBatch = 0): AsyncGenerator<Batch, void, undefined> {
    if (!(Number.isInteger(fromBatch) && fromBatch >= 0 && fromBatch <= this.batchesPerEpoch)) {
      throw new Error(`loader: fromBatch ${fromBatch} is not in [0, ${this.batchesPerEpoch}]`);
    }
    const order = this.order(epoch);
    const { batchSize, prefetch } = this.opts;
    const inFlight: Promise<Batch>[] = [];
    let start = fromBatch * batchSize;
    const fill = (ahead: number) => {
      while (inFlight.length < ahead && start < order.length) {
        const indices = order.slice(start, start + batchSize);
        // Prepared on the event loop's next turn: by then the consumer has handed the batch before it
        // to ONNX Runtime, whose run goes on off this thread, so the augmentation overlaps that step.
        const batch = nextTurn().then(() => this.batch(epoch, indices));
        batch.catch(() => undefined); // handled when awaited; no unhandled rejection if the consumer stops early
        inFlight.push(batch);
        start += batchSize;
      }
    };
    fill(prefetch);
    while ((fill(1), inFlight.length > 0)) {
      const t0 = performance.now();
      const batch = await inFlight.shift()!;
      this.waited += performance.now() - t0;
      fill(prefetch);
      yield batch;
    }
  }

  /**
   * Takes back a batch its consumer is done with: a later batch of the same size is written into its
   * pixels, which then change.
   */
  recycle(batch: Batch): void {
    this.spare.give(batch.input.data);
  }

  /** Releases the workers and TrivialAugment's session, if any. */
  close(): Promise<void> {
    this.closed = true;
    return this.images.release();
  }

  private async batch(epoch: number, indices: number[]): Promise<Batch> {
    if (this.closed) throw new Error('loader: closed');
    return {
      input: await this.images.batch(epoch, indices, this.spare.take(indices.length)),
      labels: Int32Array.from(indices, (i) => this.samples[i].label),
      paths: indices.map((i) => this.samples[i].path),
    };
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function checkOptions(opts: LoaderOptions) {
  const integer = (name: string, v: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min))
      throw new Error(`loader: ${name} must be an integer ≥ ${min}, got ${v}`);
    return v;
  };
  if (opts.samples.length === 0) throw new Error('loader: no samples to load');
  // Before decoding, so a bad setting fails at once (EpochImages checks it again for its other callers).
  if (opts.augment) checkAugmentConfig(opts.augment);
  return {
    ...opts,
    batchSize: integer('batchSize', opts.batchSize, 1),
    prefetch: integer('prefetch', opts.prefetch ?? 0, 0),
    workers: integer('workers', opts.workers ?? 0, 0),
    seed: opts.seed ?? 0,
  };
}
