import assert from 'node:assert/strict';
import { test } from 'node:test';
import { confusionMatrix } from '../../src/eval/confusion.js';
import { computeMetrics } from '../../src/eval/metrics.js';

const CLASSES = ['notsmoking', 'smoking'];
// 4 negatives then 6 positives; at 0.5: one false positive (0.6), two misses (0.45, 0.2).
const LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
const PROBS = [0.1, 0.4, 0.6, 0.3, 0.9, 0.8, 0.55, 0.45, 0.7, 0.2];

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

test('metrics of a hand-worked example match scikit-learn', () => {
  const m = computeMetrics(LABELS, PROBS, { classes: CLASSES, split: 'test' });
  assert.deepEqual(m.confusion_matrix, [
    [3, 1],
    [2, 4],
  ]);
  assert.equal(m.n, 10);
  assert.equal(m.threshold, 0.5);
  assert.equal(m.split, 'test');
  assert.equal(m.positive_class, 'smoking');
  close(m.accuracy, 7 / 10, 'accuracy');
  // Positive class: tp 4, fp 1, fn 2.
  close(m.precision, 4 / 5, 'precision');
  close(m.recall, 4 / 6, 'recall');
  close(m.f1, 8 / 11, 'f1');
  assert.deepEqual(m.per_class.smoking, { precision: m.precision, recall: m.recall, f1: m.f1, support: 6 });
  // Negative class: tn 3 of 5 predicted negative, 3 of 4 true negatives.
  close(m.per_class.notsmoking.precision, 3 / 5, 'neg precision');
  close(m.per_class.notsmoking.recall, 3 / 4, 'neg recall');
  close(m.per_class.notsmoking.f1, 6 / 9, 'neg f1');
  assert.equal(m.per_class.notsmoking.support, 4);
  // sklearn average='macro': (0.7, 0.708333…, 0.696969…), F1 the mean of class F1s.
  close(m.macro.precision, 0.7, 'macro precision');
  close(m.macro.recall, (3 / 4 + 4 / 6) / 2, 'macro recall');
  close(m.macro.f1, (6 / 9 + 8 / 11) / 2, 'macro f1');
  // 19 of the 24 (negative, positive) pairs are ordered correctly.
  close(m.roc_auc!, 19 / 24, 'roc_auc');
  assert.deepEqual(m.notes, []);
});

test('a probability equal to the threshold counts as positive', () => {
  assert.deepEqual(confusionMatrix([0, 1], [0.5, 0.5], 0.5), [
    [0, 1],
    [0, 1],
  ]);
  assert.deepEqual(confusionMatrix([0, 1], [0.5, 0.5], 0.51), [
    [1, 0],
    [1, 0],
  ]);
});

test('a class never predicted gets precision 0 and a note, not NaN', () => {
  const m = computeMetrics(LABELS, PROBS, { classes: CLASSES, threshold: 0.95 });
  assert.deepEqual(m.confusion_matrix, [
    [4, 0],
    [6, 0],
  ]);
  // sklearn (zero_division='warn'): precision [0.4, 0], recall [1, 0], f1 [0.5714…, 0].
  assert.equal(m.precision, 0);
  assert.equal(m.recall, 0);
  assert.equal(m.f1, 0);
  close(m.per_class.notsmoking.f1, 8 / 14, 'neg f1');
  close(m.macro.precision, 0.2, 'macro precision');
  assert.equal(m.notes.length, 1);
  assert.match(m.notes[0], /precision of 'smoking' is undefined \(no sample was predicted 'smoking'\)/);
  const scores = [
    m.accuracy,
    ...Object.values(m.macro),
    ...Object.values(m.per_class).flatMap(Object.values),
  ];
  assert.ok(scores.every(Number.isFinite), `a NaN slipped through: ${scores}`);
});

test('labels of one class: recall of the other is 0 with a note, ROC is null', () => {
  const m = computeMetrics([0, 0, 0], [0.2, 0.7, 0.1], { classes: CLASSES });
  assert.equal(m.roc_auc, null);
  assert.equal(m.roc, null);
  assert.equal(m.per_class.smoking.support, 0);
  assert.equal(m.recall, 0);
  assert.ok(m.notes.some((n) => /recall of 'smoking' is undefined/.test(n)));
  assert.ok(m.notes.some((n) => /ROC-AUC is undefined/.test(n)));
  assert.equal(m.split, null);
});

test('bad inputs are rejected with the reason', () => {
  const opts = { classes: CLASSES };
  assert.throws(() => computeMetrics([0, 1], [0.5], opts), /2 labels but 1 probabilities/);
  assert.throws(() => computeMetrics([], [], opts), /no samples/);
  assert.throws(() => computeMetrics([0, 2], [0.1, 0.2], opts), /label 2 at index 1/);
  assert.throws(() => computeMetrics([0, 1], [0.1, NaN], opts), /probability NaN at index 1/);
  assert.throws(() => computeMetrics([0, 1], [0.1, 1.5], opts), /probability 1.5/);
  assert.throws(() => computeMetrics([0, 1], [0.1, 0.2], { classes: ['a'] }), /two distinct class names/);
  assert.throws(() => computeMetrics([0, 1], [0.1, 0.2], { ...opts, threshold: NaN }), /threshold is NaN/);
});

test('typed arrays are accepted as inputs', () => {
  const m = computeMetrics(Uint8Array.from(LABELS), Float32Array.from(PROBS), { classes: CLASSES });
  assert.deepEqual(m.confusion_matrix, [
    [3, 1],
    [2, 4],
  ]);
});
