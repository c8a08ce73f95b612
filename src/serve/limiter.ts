/**
 * At most `slots` tasks run at once; the others wait in arrival order. A waiting task whose signal
 * aborts (its request timed out or its client left) leaves the queue without running: work that
 * nobody will read is never started.
 */
export class Limiter {
  private running = 0;
  private waiting: { start: () => void; signal?: AbortSignal }[] = [];

  constructor(private readonly slots: number) {
    if (!(Number.isInteger(slots) && slots >= 1))
      throw new Error(`limiter: ${slots} slots is not a whole number >= 1`);
  }

  /** Tasks waiting for a slot. */
  get pending(): number {
    return this.waiting.length;
  }

  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    // A slot is taken here, or handed over by the task that ends (so none is lost in between).
    if (this.running < this.slots) this.running++;
    else {
      await new Promise<void>((resolve, reject) => {
        const entry = { start: resolve, signal };
        this.waiting.push(entry);
        signal?.addEventListener(
          'abort',
          () => {
            const at = this.waiting.indexOf(entry);
            if (at < 0) return;
            this.waiting.splice(at, 1);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next.start();
      else this.running--;
    }
  }
}
