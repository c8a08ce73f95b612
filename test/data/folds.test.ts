import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stratifiedFolds } from '../../src/data/folds.js';
import type { Sample } from '../../src/data/sample.js';

const samples: Sample[] = Array.from({ length: 103 }, (_, i) => ({
  path: `/d/${i % 3 === 0 ? 'smoking' : 'notsmoking'}_${String(i).padStart(4, '0')}.jpg`,
  label: i % 3 === 0 ? 1 : 0,
}));

test('folds are disjoint, cover every sample, keep the class balance and differ in size by at most one', () => {
  const folds = stratifiedFolds(samples, 2, 5, 42);
  assert.equal(folds.length, 5);
  const all = folds.flat().map((s) => s.path);
  assert.equal(new Set(all).size, samples.length);
  assert.deepEqual([...all].sort(), samples.map((s) => s.path).sort());
  const sizes = folds.map((f) => f.length);
  assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
  const positives = folds.map((f) => f.filter((s) => s.label === 1).length);
  assert.ok(Math.max(...positives) - Math.min(...positives) <= 1, `positives ${positives}`);
  for (const f of folds)
    assert.deepEqual(
      f,
      [...f].sort((a, b) => (a.path < b.path ? -1 : 1)),
    );
});

test('the same seed gives the same folds; another seed other folds; too few images are refused', () => {
  assert.deepEqual(stratifiedFolds(samples, 2, 5, 42), stratifiedFolds([...samples].reverse(), 2, 5, 42));
  assert.notDeepEqual(stratifiedFolds(samples, 2, 5, 42), stratifiedFolds(samples, 2, 5, 43));
  assert.throws(
    () => stratifiedFolds(samples.slice(0, 6), 2, 5, 1),
    /class 0 has 4 images, too few for 5 folds/,
  );
  assert.throws(() => stratifiedFolds(samples, 2, 1, 1), /give a whole number >= 2/);
});
