import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeMetrics } from '../../src/eval/metrics.js';
import { headlineScores, isBinary, modelMetrics } from '../../src/eval/model-metrics.js';
import { computeMulticlassMetrics } from '../../src/eval/multiclass-metrics.js';

const CLASSES = ['a', 'b', 'c'];
// Seven images of three classes; the most probable class is marked. y_true = [0, 0, 1, 1, 2, 2, 0],
// y_pred = argmax = [0, 1, 1, 2, 2, 0, 0].
const LABELS = [0, 0, 1, 1, 2, 2, 0];
const PROBS = [
  [0.7, 0.2, 0.1], // a -> a
  [0.3, 0.5, 0.2], // a -> b
  [0.2, 0.6, 0.2], // b -> b
  [0.1, 0.3, 0.6], // b -> c
  [0.2, 0.2, 0.6], // c -> c
  [0.4, 0.35, 0.25], // c -> a
  [0.8, 0.1, 0.1], // a -> a
].flat();

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

test('K-class metrics of a hand-worked example match scikit-learn', () => {
  const m = computeMulticlassMetrics(LABELS, PROBS, { classes: CLASSES, split: 'test' });
  assert.equal(m.n, 7);
  assert.equal(m.split, 'test');
  assert.equal(m.decision, 'most probable class');
  // confusion_matrix(y_true, y_pred): rows true, columns predicted.
  assert.deepEqual(m.confusion_matrix, [
    [2, 1, 0],
    [0, 1, 1],
    [1, 0, 1],
  ]);
  // accuracy_score(y_true, y_pred) = 4/7.
  close(m.accuracy, 4 / 7, 'accuracy');
  // precision_recall_fscore_support(y_true, y_pred, average=None): a 2/3, 2/3, 2/3 (support 3);
  // b and c 1/2, 1/2, 1/2 (support 2).
  assert.deepEqual(m.per_class.a.support, 3);
  close(m.per_class.a.precision, 2 / 3, 'a precision');
  close(m.per_class.a.recall, 2 / 3, 'a recall');
  close(m.per_class.a.f1, 2 / 3, 'a f1');
  for (const c of ['b', 'c']) {
    assert.equal(m.per_class[c].support, 2);
    for (const k of ['precision', 'recall', 'f1'] as const) close(m.per_class[c][k], 1 / 2, `${c} ${k}`);
  }
  // average='macro': (2/3 + 1/2 + 1/2) / 3 = 5/9 for each.
  close(m.macro.precision, 5 / 9, 'macro precision');
  close(m.macro.recall, 5 / 9, 'macro recall');
  close(m.macro.f1, 5 / 9, 'macro f1');
  // log_loss(y_true, P) = -(ln .7 + ln .3 + ln .6 + ln .3 + ln .6 + ln .25 + ln .8) / 7 = 0.770815673…
  const expected = -[0.7, 0.3, 0.6, 0.3, 0.6, 0.25, 0.8].reduce((s, p) => s + Math.log(p), 0) / 7;
  close(m.log_loss, expected, 'log loss');
  close(m.log_loss, 0.7708156732223838, 'log loss (value)');
  // roc_auc_score(y_true == k, P[:, k]) per class: a 11/12 (11 of 12 pairs ordered), b 8/10, c 8.5/10
  // (one tie at 0.6 counts half); roc_auc_score(y_true, P, multi_class='ovr', average='macro') is
  // their mean, 0.855555….
  close(m.roc_auc_ovr_per_class.a!, 11 / 12, 'auc a');
  close(m.roc_auc_ovr_per_class.b!, 8 / 10, 'auc b');
  close(m.roc_auc_ovr_per_class.c!, 8.5 / 10, 'auc c');
  close(m.roc_auc_ovr_macro!, (11 / 12 + 0.8 + 0.85) / 3, 'auc macro');
  assert.deepEqual(m.notes, []);
  assert.deepEqual(headlineScores(m), { f1: m.macro.f1, rocAuc: m.roc_auc_ovr_macro });
});

test('a class absent from the labels: ROC-AUC null (scikit-learn raises), its recall 0 with a note', () => {
  // y_true = [0, 1, 0, 1], y_pred = [0, 1, 2, 1]: 'c' is predicted once but never true.
  const m = computeMulticlassMetrics(
    [0, 1, 0, 1],
    [0.6, 0.3, 0.1, 0.2, 0.7, 0.1, 0.2, 0.3, 0.5, 0.1, 0.8, 0.1],
    { classes: CLASSES },
  );
  assert.equal(m.split, null);
  assert.equal(m.roc_auc_ovr_macro, null);
  assert.equal(m.roc_auc_ovr_per_class.c, null);
  // roc_auc_score([1, 0, 1, 0], [.6, .2, .2, .1]): 3.5 of 4 pairs (the tie at 0.2 counts half).
  close(m.roc_auc_ovr_per_class.a!, 3.5 / 4, 'auc a');
  // precision_recall_fscore_support(..., zero_division=0): c has precision 0/1, recall 0/0 -> 0, F1 0.
  assert.deepEqual(m.per_class.c, { precision: 0, recall: 0, f1: 0, support: 0 });
  close(m.macro.recall, (1 / 2 + 1 + 0) / 3, 'macro recall');
  assert.ok(m.notes.some((n) => /recall of 'c' is undefined/.test(n)));
  assert.ok(m.notes.some((n) => /ROC-AUC \(one-vs-rest\) is undefined: no image is truly 'c'/.test(n)));
});

test('K-class inputs that would give wrong numbers are refused', () => {
  const ok = [0.5, 0.3, 0.2];
  assert.throws(() => computeMulticlassMetrics([3], ok, { classes: CLASSES }), /label 3 at index 0/);
  assert.throws(() => computeMulticlassMetrics([0], [0.5, 0.5], { classes: CLASSES }), /1 labels but 2/);
  assert.throws(() => computeMulticlassMetrics([0], [NaN, 0.5, 0.5], { classes: CLASSES }), /NaN/);
  assert.throws(() => computeMulticlassMetrics([0], ok, { classes: ['a', 'a', 'b'] }), /distinct/);
});

test('modelMetrics: two classes give exactly the binary metrics, more the K-class ones', () => {
  const probs = Float32Array.from([0.9, 0.1, 0.3, 0.7, 0.6, 0.4, 0.2, 0.8]);
  const labels = [0, 1, 1, 1];
  const classes = ['notsmoking', 'smoking'];
  const binary = modelMetrics(labels, probs, { classes, threshold: 0.5, split: 'validation' });
  assert.ok(isBinary(binary));
  assert.deepEqual(
    binary,
    computeMetrics(labels, Float32Array.from([0.1, 0.7, 0.4, 0.8]), { classes, split: 'validation' }),
  );
  assert.deepEqual(headlineScores(binary), { f1: binary.f1, rocAuc: binary.roc_auc });
  const multi = modelMetrics(LABELS, Float32Array.from(PROBS), { classes: CLASSES });
  assert.ok(!isBinary(multi));
  assert.equal(multi.confusion_matrix.length, 3);
});
