import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rocAuc, rocCurve } from '../../src/eval/roc.js';
import { Rng } from '../../src/random/rng.js';

test('the ROC curve of scikit-learn’s documented example', () => {
  // sklearn.metrics.roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]).
  const roc = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])!;
  assert.deepEqual(roc.fpr, [0, 0, 0.5, 0.5, 1]);
  assert.deepEqual(roc.tpr, [0, 0.5, 0.5, 1, 1]);
  assert.deepEqual(roc.thresholds, [Infinity, 0.8, 0.4, 0.35, 0.1]);
  assert.equal(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
});

test('tied scores move together and count half in the AUC', () => {
  // A positive and a negative share 0.5: one ROC step goes diagonally through both.
  const labels = [0, 1, 0, 1];
  const probs = [0.5, 0.5, 0.2, 0.9];
  const roc = rocCurve(labels, probs)!;
  assert.deepEqual(roc.fpr, [0, 0, 0.5, 1]);
  assert.deepEqual(roc.tpr, [0, 0.5, 1, 1]);
  assert.deepEqual(roc.thresholds, [Infinity, 0.9, 0.5, 0.2]);
  // Pairs (neg, pos): (0.5, 0.5) counts ½, the other three 1 → 3.5 / 4.
  assert.equal(rocAuc(labels, probs), 0.875);
  assert.equal(rocAuc([0, 1, 1, 0, 1], [0.5, 0.5, 0.5, 0.5, 0.5]), 0.5);
});

test('collinear points are dropped as scikit-learn’s drop_intermediate does', () => {
  // sklearn gives fpr [0, 0, 0, .25, .25, .75, .75, 1], thresholds [inf, .9, .7, .6, .45, .3, .2, .1].
  const labels = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
  const probs = [0.1, 0.4, 0.6, 0.3, 0.9, 0.8, 0.55, 0.45, 0.7, 0.2];
  const roc = rocCurve(labels, probs)!;
  assert.deepEqual(roc.fpr, [0, 0, 0, 0.25, 0.25, 0.75, 0.75, 1]);
  assert.deepEqual(roc.tpr, [0, 1 / 6, 3 / 6, 3 / 6, 5 / 6, 5 / 6, 1, 1]);
  assert.deepEqual(roc.thresholds, [Infinity, 0.9, 0.7, 0.6, 0.45, 0.3, 0.2, 0.1]);
});

test('the AUC equals the share of correctly ordered pairs, ties counting half', () => {
  const rng = new Rng(3);
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + rng.int(60);
    const labels = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.next() < 0.4 ? 1 : 0));
    // Two decimals force many ties.
    const probs = labels.map(
      (y) => Math.round(Math.min(1, Math.max(0, rng.next() * 0.8 + 0.2 * y)) * 100) / 100,
    );
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        if (labels[i] === 1 && labels[j] === 0) {
          pairs++;
          wins += probs[i] > probs[j] ? 1 : probs[i] === probs[j] ? 0.5 : 0;
        }
    const auc = rocAuc(labels, probs)!;
    assert.ok(Math.abs(auc - wins / pairs) < 1e-12, `trial ${trial}: ${auc} vs ${wins / pairs}`);
  }
});

test('ROC is null when the labels hold one class', () => {
  assert.equal(rocCurve([1, 1], [0.2, 0.3]), null);
  assert.equal(rocAuc([0, 0], [0.2, 0.3]), null);
});
