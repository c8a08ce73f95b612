import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMetricsTable } from '../../src/eval/format-table.js';
import { computeMetrics } from '../../src/eval/metrics.js';

const LABELS = [0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
const PROBS = [0.1, 0.4, 0.6, 0.3, 0.9, 0.8, 0.55, 0.45, 0.7, 0.2];
const metrics = computeMetrics(LABELS, PROBS, { classes: ['notsmoking', 'smoking'], split: 'val' });

test('the table lists per-class scores, averages, AUC and the named confusion matrix', () => {
  const lines = formatMetricsTable(metrics, { color: false }).split('\n');
  assert.equal(lines[0], "val: 10 samples, 'smoking' when p ≥ 0.5");
  const row = (name: string) => lines.find((l) => l.startsWith(name))!.split(/\s+/);
  assert.deepEqual(row('notsmoking'), ['notsmoking', '0.6000', '0.7500', '0.6667', '4']);
  assert.deepEqual(row('smoking'), ['smoking', '0.8000', '0.6667', '0.7273', '6']);
  assert.deepEqual(row('macro avg'), ['macro', 'avg', '0.7000', '0.7083', '0.6970', '10']);
  assert.deepEqual(row('accuracy'), ['accuracy', '0.7000', '10']);
  assert.deepEqual(row('ROC-AUC'), ['ROC-AUC', '0.7917']);
  const cm = lines.slice(lines.findIndex((l) => l.startsWith('confusion matrix')) + 1);
  assert.deepEqual(cm[0].trim().split(/\s+/), ['notsmoking', 'smoking']);
  assert.deepEqual(cm[1].split(/\s+/), ['notsmoking', '3', '1']);
  assert.deepEqual(cm[2].split(/\s+/), ['smoking', '2', '4']);
});

test('columns line up and colour codes appear only when asked for', () => {
  const plain = formatMetricsTable(metrics, { color: false });
  assert.ok(!plain.includes('\x1b'));
  const widths = plain
    .split('\n')
    .filter((l) => /^(class|notsmoking|smoking|macro)/.test(l) && !l.startsWith('confusion'))
    .slice(0, 4)
    .map((l) => l.length);
  assert.equal(new Set(widths).size, 1, `rows of different widths: ${widths}`);
  const coloured = formatMetricsTable(metrics, { color: true });
  assert.ok(coloured.includes('\x1b[1m'));
  assert.equal(coloured.replaceAll('\x1b[1m', '').replaceAll('\x1b[0m', ''), plain);
});

test('notes follow the table', () => {
  const m = computeMetrics(LABELS, PROBS, { classes: ['notsmoking', 'smoking'], threshold: 0.95 });
  assert.match(formatMetricsTable(m, { color: false }), /\nnote: precision of 'smoking' is undefined/);
});
