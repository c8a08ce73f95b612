/** What one queued item gets back: its own result and how its batch went. */
export interface Batched<R> {
  value: R;
  /** From push() to the start of the batch that ran this item. */
  queueMs: number;
  /** The batch's run time (shared by every item in it). */
  runMs: number;
  /** Items in that batch. */
  batchSize: number;
}

export interface BatchQueueOptions {
  /** Most items per run. */
  maxBatch: number;
  /** How long the first item of an idle queue waits for company before its batch runs. */
  windowMs: number;
  /** Items waiting at most; more are refused at once with QueueFullError (default: unbounded). */
  maxPending?: number;
}

export interface BatchQueueStats {
  /** Runs so far: one model call each. */
  batches: number;
  /** Items run so far. */
  items: number;
  /** The largest batch so far. */
  largestBatch: number;
  pending: number;
  running: boolean;
}

/** push() was refused: maxPending items are waiting already. */
export class QueueFullError extends Error {
  constructor(readonly pending: number) {
    super(`${pending} requests are waiting already`);
  }
}

/** push() was refused or ended because the queue is closing. */
export class QueueClosedError extends Error {
  constructor() {
    super('the server is shutting down');
  }
}

interface Entry<T, R> {
  item: T;
  enqueued: number;
  resolve(v: Batched<R>): void;
  reject(e: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/**
 * Dynamic batching: items pushed by concurrent callers are collected into one `run(items)` call of at
 * most `maxBatch` items. An idle queue waits `windowMs` after its first item (or until `maxBatch` items
 * are in) and then runs; one run is in flight at a time, and the items that arrive meanwhile form the
 * next batch, which starts as soon as the run ends. A caller whose signal aborts while its item waits is
 * dropped from the queue; once running, an item runs to the end (its result is then simply unused).
 */
export class BatchQueue<T, R> {
  private pending: Entry<T, R>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private batches = 0;
  private items = 0;
  private largest = 0;

  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly opts: BatchQueueOptions,
  ) {
    if (!(Number.isInteger(opts.maxBatch) && opts.maxBatch >= 1))
      throw new Error(`batch queue: maxBatch ${opts.maxBatch} is not a whole number >= 1`);
    if (!(opts.windowMs >= 0)) throw new Error(`batch queue: windowMs ${opts.windowMs} is not >= 0`);
  }

  push(item: T, signal?: AbortSignal): Promise<Batched<R>> {
    if (this.closed) return Promise.reject(new QueueClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.opts.maxPending !== undefined && this.pending.length >= this.opts.maxPending)
      return Promise.reject(new QueueFullError(this.pending.length));
    return new Promise<Batched<R>>((resolve, reject) => {
      const entry: Entry<T, R> = { item, enqueued: performance.now(), resolve, reject, signal };
      if (signal) {
        entry.onAbort = () => {
          const at = this.pending.indexOf(entry);
          if (at < 0) return;
          this.pending.splice(at, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.pending.push(entry);
      this.schedule();
    });
  }

  stats(): BatchQueueStats {
    return {
      batches: this.batches,
      items: this.items,
      largestBatch: this.largest,
      pending: this.pending.length,
      running: this.running,
    };
  }

  /** Refuses new items, fails the waiting ones and resolves when the running batch has finished. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const e of this.pending.splice(0)) {
      this.detach(e);
      e.reject(new QueueClosedError());
    }
    await this.idle;
  }

  private schedule(): void {
    if (this.running) return; // the running batch starts the next one when it ends
    if (this.pending.length >= this.opts.maxBatch) {
      this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.opts.windowMs);
    }
  }

  private detach(e: Entry<T, R>): void {
    if (e.onAbort) e.signal!.removeEventListener('abort', e.onAbort);
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.opts.maxBatch);
    batch.forEach((e) => this.detach(e));
    this.running = true;
    this.batches++;
    this.items += batch.length;
    this.largest = Math.max(this.largest, batch.length);
    this.idle = this.execute(batch);
  }

  private async execute(batch: Entry<T, R>[]): Promise<void> {
    const start = performance.now();
    try {
      const results = await this.run(batch.map((e) => e.item));
      if (results.length !== batch.length)
        throw new Error(`batch queue: run returned ${results.length} results for ${batch.length} items`);
      const runMs = performance.now() - start;
      batch.forEach((e, i) =>
        e.resolve({ value: results[i], queueMs: start - e.enqueued, runMs, batchSize: batch.length }),
      );
    } catch (err) {
      for (const e of batch) e.reject(err);
    } finally {
      this.running = false;
      // Whatever arrived during the run has waited at least as long as a window: run it now.
      if (this.pending.length > 0 && !this.closed) this.flush();
    }
  }
}
