import { Rng } from '../random/rng.js';
import type { Sample } from './sample.js';

/** train/val/test shares of an unsplit folder. */
export const DEFAULT_SPLIT_FRACTIONS: [number, number, number] = [0.64, 0.16, 0.2];

/**
 * Splits samples into train/val/test by `fractions`, separately within each class so every split keeps
 * the class balance. Deterministic for a seed: each class's samples are sorted by path, then shuffled
 * with one generator in class order; each split comes back sorted by path.
 */
export function stratifiedSplit(
  samples: Sample[],
  numClasses: number,
  fractions: readonly [number, number, number],
  seed: number,
): [Sample[], Sample[], Sample[]] {
  const rng = new Rng(seed);
  const out: [Sample[], Sample[], Sample[]] = [[], [], []];
  const byPath = (a: Sample, b: Sample) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  for (let c = 0; c < numClasses; c++) {
    const members = rng.shuffle(samples.filter((s) => s.label === c).sort(byPath));
    // Cumulative cut points, so rounding never loses or duplicates a sample.
    const cut1 = Math.round(members.length * fractions[0]);
    const cut2 = Math.round(members.length * (fractions[0] + fractions[1]));
    out[0].push(...members.slice(0, cut1));
    out[1].push(...members.slice(cut1, cut2));
    out[2].push(...members.slice(cut2));
  }
  for (const split of out) split.sort(byPath);
  return out;
}

/** Throws unless `fractions` are three non-negative numbers summing to 1 with a non-zero train share. */
export function checkSplitFractions(fractions: readonly number[]): void {
  const ok =
    fractions.length === 3 &&
    fractions.every((f) => Number.isFinite(f) && f >= 0) &&
    fractions[0] > 0 &&
    Math.abs(fractions[0] + fractions[1] + fractions[2] - 1) < 1e-6;
  if (!ok) {
    throw new Error(
      `split fractions [${fractions.join(', ')}] must be three non-negative numbers (train > 0) that sum to 1`,
    );
  }
}

/** Shares as the messages quote them: '64/16/20'. */
export const splitShares = (fractions: readonly number[]): string =>
  fractions.map((f) => Math.round(f * 100)).join('/');

/**
 * An unsplit set of labelled images split as the CLI splits one folder: stratified and seeded, and
 * refused unless every split with a share holds every class. `where` names the images in errors.
 */
export function splitUnsplit(
  samples: Sample[],
  classes: string[],
  fractions: [number, number, number],
  seed: number,
  where: string,
): [Sample[], Sample[], Sample[]] {
  checkSplitFractions(fractions);
  const splits = stratifiedSplit(samples, classes.length, fractions, seed);
  splits.forEach((split, i) => {
    if (fractions[i] === 0) return;
    requireEveryClass(split, classes, (c) => {
      const n = samples.filter((s) => s.label === classes.indexOf(c)).length;
      return `${where}: class '${c}' has ${n} image(s), too few to split ${splitShares(fractions)}; add images or use split folders`;
    });
  });
  return splits;
}

/** Throws `message(class)` for the first class of `classes` that no sample has. */
export function requireEveryClass(
  samples: Sample[],
  classes: string[],
  message: (className: string) => string,
): void {
  const seen = new Set(samples.map((s) => s.label));
  const absent = classes.find((_, c) => !seen.has(c));
  if (absent !== undefined) throw new Error(message(absent));
}
