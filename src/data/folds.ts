import { Rng } from '../random/rng.js';
import type { Sample } from './sample.js';

/**
 * `k` disjoint folds that together hold every sample, each with the classes in the data's proportions:
 * within each class the samples, sorted by path, are shuffled with one generator seeded by `seed` and
 * dealt to the folds in turn, the dealing continuing from class to class so that fold sizes differ by
 * at most one. Each fold comes back sorted by path. Deterministic for a seed.
 */
export function stratifiedFolds(
  samples: readonly Sample[],
  numClasses: number,
  k: number,
  seed: number,
): Sample[][] {
  if (!(Number.isInteger(k) && k >= 2)) throw new Error(`folds: ${k} folds; give a whole number >= 2`);
  const rng = new Rng(seed);
  const folds: Sample[][] = Array.from({ length: k }, () => []);
  const byPath = (a: Sample, b: Sample) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  let next = 0;
  for (let c = 0; c < numClasses; c++) {
    const members = rng.shuffle(samples.filter((s) => s.label === c).sort(byPath));
    if (members.length > 0 && members.length < k)
      throw new Error(`folds: class ${c} has ${members.length} images, too few for ${k} folds`);
    for (const s of members) folds[next++ % k].push(s);
  }
  return folds.map((f) => f.sort(byPath));
}
