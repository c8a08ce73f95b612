import { Worker } from 'node:worker_threads';
import { tensor, type Tensor } from '../graph/tensor.js';
import { EpochImages, type EpochImageOptions } from './epoch-images.js';
import type { ImageStore } from './image-store.js';

/** What a worker is started with: the store's shared memory and EpochImages' options. */
export interface PoolSetup {
  buffer: SharedArrayBuffer;
  count: number;
  size: [number, number];
  options: EpochImageOptions;
}

/** One share of a batch: images `indices` of epoch `epoch`, written at float `offset` of `out`. */
export interface PoolJob {
  id: number;
  epoch: number;
  indices: number[];
  out: SharedArrayBuffer;
  offset: number;
}

export type PoolReply = { id: number; error?: string };

/**
 * EpochImages on this thread and worker threads: each batch's images are split between them. The
 * draws still come from (seed, epoch, image), so the batches are the same bit for bit as EpochImages'
 * on one thread. This thread writes its share into the batch itself and copies the workers' in from
 * shared memory, since ONNX Runtime does not take a tensor in shared memory. It runs between train
 * steps, when ORT's threads are idle: one worker cuts an epoch's augmentation from 0.42–0.46 s to
 * 0.27–0.28 s on 2 cores (MobileNetV2 seed recipe, recycled batches, bench/train-epoch.ts). Overlapping
 * the step with it does not pay: the step's threads fill both cores. Augmenting in a niced process
 * beside the step got no CPU while ORT's threads spun, and with their spinning off slowed the step by
 * 10%, more than the augmentation costs between steps (7%).
 */
export class AugmentPool {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve(): void; reject(e: Error): void }>();
  /**
   * Shared memory for the workers' shares, kept for the next batch: fresh memory every batch would
   * page-fault as they write it, and the faults of two threads contend (the pool was no faster).
   */
  private readonly spare: SharedArrayBuffer[] = [];
  private failure: Error | undefined;
  private released = false;

  private constructor(
    private readonly here: EpochImages,
    private readonly workers: Worker[],
    private readonly size: readonly [number, number],
  ) {
    for (const w of workers) {
      w.on('message', (r: PoolReply) => {
        const job = this.waiting.get(r.id)!;
        this.waiting.delete(r.id);
        if (this.waiting.size === 0) this.hold(false);
        if (r.error) job.reject(new Error(r.error));
        else job.resolve();
      });
      w.on('error', (e) => this.fail(new Error(`augmentation worker failed: ${e.message}`)));
      w.on('exit', (code) => this.fail(new Error(`augmentation worker stopped (exit code ${code})`)));
    }
    this.hold(false);
  }

  /** This thread and `workers` more serving `store`, whose memory must be shared (checkImages makes it so). */
  static async open(store: ImageStore, options: EpochImageOptions, workers: number): Promise<AugmentPool> {
    if (!(store.buffer instanceof SharedArrayBuffer))
      throw new Error('augment pool: the image store is not in shared memory; build it with checkImages');
    const setup: PoolSetup = { buffer: store.buffer, count: store.count, size: store.size, options };
    const started = Array.from({ length: workers }, async () => {
      const w = new Worker(new URL('./augment-worker.js', import.meta.url), { workerData: setup });
      // The worker's first message says it has compiled its kernel (or why it could not).
      const ready: PoolReply = await new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      });
      if (ready.error) throw new Error(ready.error);
      return w;
    });
    const here = EpochImages.open(store, options);
    const settled = await Promise.allSettled(started);
    const ok = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all([...ok.map((w) => w.terminate()), here.then((h) => h.release())]);
      throw failed.reason as Error;
    }
    return new AugmentPool(await here, ok, store.size);
  }

  /** As EpochImages.batch: images `indices` of epoch `epoch`, [N,3,H,W] in that order, in `into` if given. */
  async batch(epoch: number, indices: readonly number[], into?: Float32Array): Promise<Tensor<'float32'>> {
    if (this.failure) throw this.failure;
    const [h, w] = this.size;
    const per = 3 * h * w;
    const n = indices.length;
    const shares = Math.min(this.workers.length + 1, n);
    const cut = (k: number) => Math.round((k * n) / shares);
    if (into && into.length !== n * per)
      throw new Error(`augment pool: ${into.length} floats to write ${n} images into`);
    const out = into ?? new Float32Array(n * per);
    // Share 0 is this thread's; the workers write theirs into `shared`, from image cut(1) on.
    const bytes = (n - cut(1)) * per * 4;
    const kept = this.spare.pop();
    const shared = kept && kept.byteLength >= bytes ? kept : new SharedArrayBuffer(bytes);
    // Held only while the workers have a share: a one-image batch is this thread's alone, and no
    // reply would let them go again.
    if (shares > 1 && this.waiting.size === 0) this.hold(true);
    const jobs = Array.from({ length: shares - 1 }, (_, k) => {
      const [from, to] = [cut(k + 1), cut(k + 2)];
      const id = this.nextId++;
      const job: PoolJob = {
        id,
        epoch,
        indices: indices.slice(from, to),
        out: shared,
        offset: (from - cut(1)) * per,
      };
      return new Promise<void>((resolve, reject) => {
        this.waiting.set(id, { resolve, reject });
        this.workers[k].postMessage(job);
      });
    });
    await this.here.batch(epoch, indices.slice(0, cut(1)), out.subarray(0, cut(1) * per));
    await Promise.all(jobs);
    out.set(new Float32Array(shared, 0, bytes / 4), cut(1) * per);
    this.spare.push(shared);
    return tensor('float32', [n, 3, h, w], out);
  }

  /** Stops the workers, and releases the TrivialAugment sessions. */
  async release(): Promise<void> {
    this.released = true;
    this.fail(new Error('augment pool: released'));
    this.hold(true); // until they have stopped: terminate() resolves on their exit
    await Promise.all([...this.workers.map((w) => w.terminate()), this.here.release()]);
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const job of this.waiting.values()) job.reject(e);
    this.waiting.clear();
    if (!this.released) this.hold(false);
  }

  /**
   * The workers keep the process alive only while they have work: an idle pool (a loader that is
   * never closed) lets it exit. Set after the listeners, which would otherwise hold it again.
   */
  private hold(on: boolean): void {
    for (const w of this.workers) {
      if (on) w.ref();
      else w.unref();
    }
  }
}
