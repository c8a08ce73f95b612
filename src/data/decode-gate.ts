/**
 * Decodes run side by side; one that failed while others ran runs again alone. libvips keeps one error
 * message for all its threads, so such a failure can carry another decode's reason, or 'Unknown error'.
 * Alone, its reason is exact, and a failure that was not the file's fault goes away. A retry waits for
 * the decodes in flight to end and holds new ones back until it is done (first come, first served).
 */
export class DecodeGate {
  /** The shared decodes admitted and not yet ended; each learns whether another ran beside it. */
  private running = new Set<{ overlapped: boolean }>();
  private alone = false;
  private waiting: { task?: { overlapped: boolean }; start: () => void }[] = [];

  async run<T>(work: () => Promise<T>): Promise<T> {
    const task = { overlapped: false };
    await this.enter(task);
    try {
      return await work();
    } catch (e) {
      if (!task.overlapped) throw e;
    } finally {
      this.running.delete(task);
      this.admit();
    }
    await this.enter();
    try {
      return await work();
    } finally {
      this.alone = false;
      this.admit();
    }
  }

  /** Waits to run: shared with `task`, alone without. */
  private enter(task?: { overlapped: boolean }): Promise<void> {
    return new Promise<void>((start) => {
      this.waiting.push({ task, start });
      this.admit();
    });
  }

  private admit(): void {
    while (this.waiting.length > 0 && !this.alone) {
      const { task, start } = this.waiting[0];
      if (!task && this.running.size > 0) return;
      this.waiting.shift();
      if (task) {
        for (const other of this.running) other.overlapped = task.overlapped = true;
        this.running.add(task);
      } else this.alone = true;
      start();
    }
  }
}
