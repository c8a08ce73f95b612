import type { Batch } from '../data/loader.js';

/** Where a trainer gets its batches: one epoch at a time, from any batch on (for resuming mid-epoch). */
export interface BatchSource {
  epoch(epoch: number, fromBatch?: number): AsyncIterable<Batch>;
  readonly batchesPerEpoch: number;
  /** Total milliseconds the consumer has waited for a batch that was not ready yet. */
  readonly waitMs: number;
}
