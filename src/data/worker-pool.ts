import { type TransferListItem, Worker } from 'node:worker_threads';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

/** What a pool worker posts back for request `id`: a result, or the message of the error it threw. */
export type WorkerReply<T> = { id: number; result: T } | { id: number; error: string };

/**
 * A fixed set of worker threads answering requests `{ id, ...request }` with a WorkerReply. A worker
 * keeps the process alive only while it has requests pending, so a forgotten close() cannot hang the
 * process; a crashed worker fails its own pending requests and every later one.
 */
export class WorkerPool<Req extends object, Res> {
  private slots: Slot[];
  private nextId = 0;
  private broken: Error | undefined;

  constructor(script: URL, size: number, workerData: unknown) {
    this.slots = Array.from({ length: size }, () => this.spawn(script, workerData));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Sends a request to the least busy worker. */
  run(request: Req, transfer: TransferListItem[] = []): Promise<Res> {
    if (this.broken) return Promise.reject(this.broken);
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<Res>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      slot.worker.ref();
      slot.worker.postMessage({ id, ...request }, transfer);
    });
  }

  async close(): Promise<void> {
    this.broken ??= new Error('worker pool closed');
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(script: URL, workerData: unknown): Slot {
    const worker = new Worker(script, { workerData });
    const slot: Slot = { worker, pending: new Map() };
    worker.unref();
    worker.on('message', (reply: WorkerReply<Res>) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(reply.result);
    });
    const fail = (error: Error) => {
      this.broken ??= error;
      for (const p of slot.pending.values()) p.reject(error);
      slot.pending.clear();
    };
    worker.on('error', (e) => fail(new Error(`loader worker crashed: ${e.message}`)));
    worker.on('exit', (code) => fail(new Error(`loader worker exited (code ${code})`)));
    return slot;
  }
}
