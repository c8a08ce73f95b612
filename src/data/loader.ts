import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import { type AugmentConfig, Augmenter } from './augment.js';
import { type BadImagePolicy, type CheckedImages, checkImages, type SkippedImage } from './check-images.js';
import { epochOrder } from './epoch-images.js';
import type { ImageStore } from './image-store.js';
import { packBatch } from './pack-batch.js';
import type { ChunkRequest, LoaderWorkerData } from './loader-worker.js';
import type { Sample } from './sample.js';
import { WorkerPool } from './worker-pool.js';

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
  /** Worker threads. Default max(1, cores − 1): ONNX Runtime wants the rest. */
  workers?: number;
  /** Batches prepared ahead of the one being consumed. Default 2. */
  prefetch?: number;
  /** Files that fail to decode: 'fail' (default) throws, 'skip' drops them (see `skipped`). */
  onBadImage?: BadImagePolicy;
  maxPixels?: number;
  /** The result of checkImages(samples, { size: preprocess.size }): reused instead of decoding again. */
  checked?: CheckedImages;
}

/**
 * Feeds a trainer batches. Every image is decoded and resized once, up front (sharp decodes on its own
 * threads), into a shared-memory cache; worker threads then augment and normalise each batch while the
 * consumer works on the previous one. Sample i's augmentation in epoch e comes from a generator derived
 * from (seed, e, i), so batches are the same for any worker count or scheduling, and an epoch can be
 * replayed (e.g. on resume) by asking for it again.
 */
export class BatchLoader {
  private waited = 0;

  private constructor(
    /** The samples served (bad images dropped under 'skip'), indexed as the cache. */
    readonly samples: Sample[],
    readonly skipped: SkippedImage[],
    /** Time spent decoding up front, ms (0 when given `checked`). */
    readonly decodeMs: number,
    private readonly opts: LoaderOptions & { batchSize: number; prefetch: number; seed: number },
    private readonly pool: WorkerPool<ChunkRequest, Float32Array>,
  ) {}

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
    const pool = new WorkerPool<ChunkRequest, Float32Array>(
      new URL('./loader-worker.js', import.meta.url),
      settings.workers,
      workerData(checked.images, opts, settings.seed),
    );
    return new BatchLoader(checked.samples, checked.skipped, decodeMs, settings, pool);
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
   * mid-epoch: the earlier ones are not computed), `prefetch` of them in preparation ahead.
   */
  async *epoch(epoch: number, fromBatch = 0): AsyncGenerator<Batch, void, undefined> {
    if (!(Number.isInteger(fromBatch) && fromBatch >= 0 && fromBatch <= this.batchesPerEpoch)) {
      throw new Error(`loader: fromBatch ${fromBatch} is not in [0, ${this.batchesPerEpoch}]`);
    }
    const order = this.order(epoch);
    const { batchSize, prefetch } = this.opts;
    const inFlight: Promise<Batch>[] = [];
    let start = fromBatch * batchSize;
    const fill = () => {
      while (inFlight.length < prefetch && start < order.length) {
        const batch = this.batch(epoch, order.slice(start, start + batchSize));
        batch.catch(() => undefined); // handled when awaited; no unhandled rejection if the consumer stops early
        inFlight.push(batch);
        start += batchSize;
      }
    };
    fill();
    while (inFlight.length > 0) {
      const t0 = performance.now();
      const batch = await inFlight.shift()!;
      this.waited += performance.now() - t0;
      fill();
      yield batch;
    }
  }

  /** Stops the workers. */
  close(): Promise<void> {
    return this.pool.close();
  }

  private async batch(epoch: number, indices: number[]): Promise<Batch> {
    // Contiguous chunks, one per worker, so all workers share each batch.
    const per = Math.ceil(indices.length / this.pool.size);
    const chunks = Array.from({ length: Math.ceil(indices.length / per) }, (_, k) =>
      indices.slice(k * per, (k + 1) * per),
    );
    const parts = await Promise.all(chunks.map((c) => this.pool.run({ epoch, indices: c })));
    const [h, w] = this.opts.preprocess.size;
    return {
      input: packBatch(parts, [h, w]),
      labels: Int32Array.from(indices, (i) => this.samples[i].label),
      paths: indices.map((i) => this.samples[i].path),
    };
  }
}

function checkOptions(opts: LoaderOptions) {
  const positiveInt = (name: string, v: number) => {
    if (!(Number.isInteger(v) && v > 0))
      throw new Error(`loader: ${name} must be a positive integer, got ${v}`);
    return v;
  };
  if (opts.samples.length === 0) throw new Error('loader: no samples to load');
  if (opts.augment) new Augmenter(opts.augment); // refuses bad settings here, not in a worker
  if (opts.checked && opts.checked.images.size.join() !== opts.preprocess.size.join()) {
    throw new Error(
      `loader: checked images are ${opts.checked.images.size.join('x')}, the model wants ${opts.preprocess.size.join('x')}`,
    );
  }
  return {
    ...opts,
    batchSize: positiveInt('batchSize', opts.batchSize),
    prefetch: positiveInt('prefetch', opts.prefetch ?? 2),
    workers: positiveInt('workers', opts.workers ?? Math.max(1, availableParallelism() - 1)),
    seed: opts.seed ?? 0,
  };
}

function workerData(images: ImageStore, opts: LoaderOptions, seed: number): LoaderWorkerData {
  return {
    buffer: images.buffer,
    count: images.count,
    preprocess: opts.preprocess,
    augment: opts.augment,
    seed,
  };
}
