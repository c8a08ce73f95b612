import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { computeMetrics } from '../../src/eval/metrics.js';
import { writeReport } from '../../src/report/report-md.js';
import { HISTORY, METRICS } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'smoker-report-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CONFIG = { backbone: 'resnet18', epochs: 4, lora: { r: 8, alpha: 16 }, targets: ['layer4'] };
const PARAMS = { adapter: 172032, head: 1026, trainable: 173058, total: 11349186, percent: 1.5248 };

test('report.md links the plots and holds the metrics, confusion matrix, config and timing', async () => {
  const dir = join(root, 'full', 'run-1');
  const out = await writeReport(dir, {
    metrics: METRICS,
    history: HISTORY,
    config: CONFIG,
    paramSummary: PARAMS,
    timing: { training: 160.4, evaluation: 2.25 },
  });
  assert.deepEqual(readdirSync(dir).sort(), [
    'confusion-matrix.png',
    'metrics.json',
    'reliability.png',
    'report.md',
    'roc-curve.png',
    'training-curves.png',
  ]);
  assert.deepEqual(
    out.plots,
    ['confusion-matrix.png', 'reliability.png', 'roc-curve.png', 'training-curves.png'].map((f) =>
      join(dir, f),
    ),
  );
  const md = readFileSync(out.report, 'utf8');
  for (const link of [
    '![Confusion matrix](confusion-matrix.png)',
    '![ROC curve](roc-curve.png)',
    '![Reliability diagram](reliability.png)',
    '![Training curves](training-curves.png)',
  ])
    assert.ok(md.includes(link), `missing ${link}`);
  // How it was measured.
  assert.ok(md.includes('- Split: `test`, 10 images (4 notsmoking, 6 smoking).'));
  assert.ok(md.includes('probability of smoking is ≥ 0.5'));
  // Metric numbers (accuracy 7/10, AUC 19/24) and the per-class table.
  assert.ok(md.includes('| accuracy | 0.7000 |'));
  assert.ok(md.includes('| recall (smoking) | 0.6667 |'));
  assert.ok(md.includes('| ROC-AUC | 0.7917 |'));
  assert.ok(md.includes('| smoking | 0.8000 | 0.6667 | 0.7273 | 6 |'));
  assert.ok(md.includes('| macro avg | 0.7000 | 0.7083 | 0.6970 | 10 |'));
  assert.ok(
    md.includes(
      [
        '| true / predicted | notsmoking | smoking |',
        '| --- | ---: | ---: |',
        '| **notsmoking** | 3 | 1 |',
        '| **smoking** | 2 | 4 |',
      ].join('\n'),
    ),
  );
  assert.ok(md.includes('4 epochs in 2 min 40 s; lowest validation loss 0.4100 at epoch 3.'));
  assert.ok(md.includes('| 3 | 0.3000 | 0.4100 | 0.8800 | 0.8300 | 0.0005 | 40.1 |'));
  assert.ok(md.includes('| lora.r | 8 |') && md.includes('| targets | ["layer4"] |'));
  assert.ok(md.includes('| trainable | 173,058 |'));
  assert.ok(md.includes('| training | 2 min 40 s |') && md.includes('| evaluation | 2.3 s |'));
  assert.ok(!md.includes('## Notes'));
});

test('metrics.json is the metrics object, pretty-printed', async () => {
  const out = await writeReport(join(root, 'json'), { metrics: METRICS, config: {} });
  const text = readFileSync(out.metrics!, 'utf8');
  assert.ok(text.startsWith('{\n  "split": "test",'));
  const json = JSON.parse(text);
  for (const key of [
    'accuracy',
    'precision',
    'recall',
    'f1',
    'confusion_matrix',
    'per_class',
    'macro',
    'roc_auc',
    'threshold',
    'n',
  ])
    assert.ok(key in json, `missing ${key}`);
  assert.deepEqual(json.confusion_matrix, METRICS.confusion_matrix);
  assert.equal(json.roc_auc, 19 / 24);
  // +Infinity, the ROC curve's first threshold, has no JSON form.
  assert.equal(json.roc.thresholds[0], null);
  assert.deepEqual(json.roc.thresholds.slice(1), METRICS.roc!.thresholds.slice(1));
});

test('without history or a second class, the sections and plots that need them are left out', async () => {
  const metrics = computeMetrics([0, 0, 0], [0.2, 0.7, 0.1], { classes: ['notsmoking', 'smoking'] });
  const dir = join(root, 'single-class');
  const out = await writeReport(dir, { metrics, config: { note: 'a | b' } });
  assert.deepEqual(readdirSync(dir).sort(), [
    'confusion-matrix.png',
    'metrics.json',
    'reliability.png',
    'report.md',
  ]);
  const md = readFileSync(out.report, 'utf8');
  assert.ok(!md.includes('roc-curve.png') && !md.includes('## Training') && !md.includes('## Timing'));
  assert.ok(md.includes('| ROC-AUC | n/a |'));
  assert.ok(md.includes('- Split: not recorded, 3 images'));
  assert.ok(md.includes("## Notes\n\n- recall of 'smoking' is undefined"));
  assert.ok(md.includes('| note | a \\| b |'), 'a pipe in a value must not split the cell');
  assert.ok(!existsSync(join(dir, 'training-curves.png')));
});

test('a run without held-out images: no metrics.json, the reason, the recipe note and the training', async () => {
  const dir = join(root, 'all-labelled');
  const history = HISTORY.map((h) => ({ ...h, valLoss: null, valAcc: null }));
  const out = await writeReport(dir, { history, config: CONFIG, note: 'Chosen by 5-fold cross-validation.' });
  assert.equal(out.metrics, undefined);
  assert.deepEqual(readdirSync(dir).sort(), ['report.md', 'training-curves.png']);
  const md = readFileSync(out.report, 'utf8');
  assert.ok(md.includes('## How the recipe was chosen\n\nChosen by 5-fold cross-validation.'));
  assert.ok(md.includes('trained on every labelled image, so no image is left to measure it on'));
  assert.ok(md.includes('| 3 | 0.3000 | - | 0.8800 | - | 0.0005 | 40.1 |'), md);
});
