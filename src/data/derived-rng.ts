import { Rng } from '../random/rng.js';

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * A generator determined by `keys` alone, e.g. (seed, epoch, sample index): draws then do not depend on
 * which worker runs a sample or in what order, and resuming at an epoch needs no saved state. The four
 * state words are four differently seeded hashes of the keys (integers; values past 2^32 count too).
 */
export function derivedRng(keys: readonly number[]): Rng {
  const state = [0x9e3779b9, 0x7f4a7c15, 0xf39cc060, 0x5ced1c6b].map((lane) =>
    keys.reduce((h, k) => mix(mix(h ^ (k >>> 0)) ^ (Math.floor(k / 4294967296) >>> 0)), lane),
  );
  const rng = new Rng(state);
  for (let i = 0; i < 12; i++) rng.u32(); // as Rng's own seeding does, to decorrelate nearby keys
  return rng;
}

/** The generator that shuffles epoch `epoch`. */
export const shuffleRng = (seed: number, epoch: number): Rng => derivedRng([seed, epoch, 0]);

/** The generator that mixes batch `batch` of epoch `epoch` (mixup, CutMix). */
export const mixRng = (seed: number, epoch: number, batch: number): Rng =>
  derivedRng([seed, epoch, 2, batch]);

/** The generator of batch `batch`'s head dropout mask in epoch `epoch`. */
export const dropoutRng = (seed: number, epoch: number, batch: number): Rng =>
  derivedRng([seed, epoch, 3, batch]);

/** The generator that augments sample `index` in epoch `epoch`. */
export const augmentRng = (seed: number, epoch: number, index: number): Rng =>
  derivedRng([seed, epoch, 1, index]);
