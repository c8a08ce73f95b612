import assert from 'node:assert/strict';
import { test } from 'node:test';
import { augmentRng, derivedRng, shuffleRng } from '../../src/data/derived-rng.js';

const draws = (rng: { u32(): number }) => Array.from({ length: 4 }, () => rng.u32());

test('derived generators depend on their keys alone', () => {
  assert.deepEqual(draws(augmentRng(1, 2, 3)), draws(augmentRng(1, 2, 3)));
  const streams = [
    augmentRng(1, 2, 3),
    augmentRng(1, 2, 4),
    augmentRng(1, 3, 3),
    augmentRng(2, 2, 3),
    shuffleRng(1, 2),
    derivedRng([1, 2, 1, 3, 0]),
    derivedRng([2 ** 32 + 1, 2, 1, 3]), // high seed bits count
  ].map((r) => draws(r).join());
  assert.equal(new Set(streams).size, streams.length);
});

test('neighbouring sample streams are uncorrelated enough for augmentation draws', () => {
  // First draws of 10 000 consecutive indices: uniform over 10 bins within a few percent.
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 10_000; i++) bins[Math.floor(augmentRng(0, 0, i).next() * 10)]++;
  assert.ok(
    bins.every((b) => b > 900 && b < 1100),
    bins.join(),
  );
});
