import { createHash } from 'node:crypto';
import { type TrainConfig, trainConfigSchema } from './train-config.js';

/**
 * Fingerprint of the recipe: resuming is refused under a different one. The output folder and threads
 * are left out: another thread count may change the last bits of ORT's sums, so an exact resume also
 * needs the same --threads. (`workers`, the loader's thread count until the augmentation became a graph,
 * was left out too, so older fingerprints are unchanged.) The schema's parse puts the keys in its own
 * order, so a config built in code (the demo's) hashes as the same settings given as flags do.
 */
export function configHash(c: TrainConfig): string {
  const { out: _out, threads: _threads, ...rest } = trainConfigSchema.parse(c);
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex').slice(0, 16);
}
