import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confusionMatrix } from '../../src/eval/confusion.js';
import { thresholdForRecall } from '../../src/eval/threshold.js';
import { Rng } from '../../src/random/rng.js';

const LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
// Positive scores, highest first: 0.9 0.8 0.7 0.55 0.45 0.2.
const PROBS = [0.1, 0.4, 0.6, 0.3, 0.9, 0.8, 0.55, 0.45, 0.7, 0.2];

test('the threshold is the k-th highest positive score', () => {
  assert.equal(thresholdForRecall(LABELS, PROBS, 0.5), 0.7); // 3 of 6
  assert.equal(thresholdForRecall(LABELS, PROBS, 2 / 3), 0.55); // 4 of 6, not a 5th through rounding
  assert.equal(thresholdForRecall(LABELS, PROBS, 0.7), 0.45); // needs 4.2 → 5 of 6
  assert.equal(thresholdForRecall(LABELS, PROBS, 1), 0.2);
  assert.equal(thresholdForRecall(LABELS, PROBS, 0.01), 0.9);
});

test('0.9 of 10 positives asks for 9, despite 0.9 · 10 rounding above 9', () => {
  const labels = Array(10).fill(1);
  const probs = labels.map((_, i) => (i + 1) / 10);
  assert.equal(thresholdForRecall(labels, probs, 0.9), 0.2);
});

test('it is the highest threshold reaching the target recall', () => {
  const rng = new Rng(11);
  const recallAt = (labels: number[], probs: number[], t: number) => {
    const [, [fn, tp]] = confusionMatrix(labels, probs, t);
    return tp / (tp + fn);
  };
  for (let trial = 0; trial < 20; trial++) {
    const labels = Array.from({ length: 40 }, (_, i) => (i < 3 ? 1 : rng.int(2)));
    const probs = labels.map(() => Math.round(rng.next() * 50) / 50);
    const target = 0.05 + 0.95 * rng.next();
    const t = thresholdForRecall(labels, probs, target);
    assert.ok(recallAt(labels, probs, t) >= target, `trial ${trial}: recall below target at ${t}`);
    const above = Math.min(...probs.filter((p) => p > t));
    if (Number.isFinite(above))
      assert.ok(recallAt(labels, probs, above) < target, `trial ${trial}: ${above} also reaches it`);
  }
});

test('a target outside (0, 1] or no positives is an error', () => {
  assert.throws(() => thresholdForRecall(LABELS, PROBS, 0), /target recall 0 is not in \(0, 1\]/);
  assert.throws(() => thresholdForRecall(LABELS, PROBS, 1.2), /not in \(0, 1\]/);
  assert.throws(() => thresholdForRecall([0, 0], [0.1, 0.2], 0.9), /no positive sample/);
});
