import { createHash } from 'node:crypto';
import type { TrainConfig } from './train-config.js';

/**
 * Fingerprint of the recipe: resuming is refused under a different one. The output folder, threads and
 * workers are left out; workers never change results, while another thread count may change the last
 * bits of ORT's sums, so an exact resume also needs the same --threads.
 */
export function configHash(c: TrainConfig): string {
  const { out: _out, threads: _threads, workers: _workers, ...rest } = c;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}
