import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeMetrics } from '../../src/eval/metrics.js';
import { CONFUSION_HEATMAP_SIZE, confusionHeatmapSvg } from '../../src/report/plots/confusion-heatmap.js';
import { svgToPng } from '../../src/report/plots/rasterize.js';
import { ROC_CURVE_SIZE, rocCurveSvg } from '../../src/report/plots/roc-curve.js';
import { text, svgDocument } from '../../src/report/plots/svg.js';
import { TRAINING_CURVES_SIZE, trainingCurvesSvg } from '../../src/report/plots/training-curves.js';
import { HISTORY, METRICS } from './fixtures.js';
import { assertPlotPng, countColour } from './png-checks.js';

/** The text content of every <text> element, in document order. */
const labels = (svg: string) => [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

test('text renders as glyphs, so a font is installed (Debian: fonts-dejavu-core)', async () => {
  const png = await svgToPng(svgDocument(200, 40, [text(10, 20, 'Loss 0.42', { size: 20 })]));
  const dark = await countColour(png, '#222222', 60);
  assert.ok(dark > 50, `only ${dark} dark pixels: no font found for 'DejaVu Sans, sans-serif'`);
});

test('training curves: both panels, labelled axes, train and validation lines', async () => {
  const svg = trainingCurvesSvg(HISTORY);
  const l = labels(svg);
  for (const want of [
    'Training curves',
    'Loss',
    'Accuracy',
    'train',
    'validation',
    'cross-entropy loss',
    'accuracy',
  ])
    assert.ok(l.includes(want), `missing label '${want}'`);
  assert.equal(l.filter((s) => s === 'epoch').length, 2);
  // Epoch ticks are whole numbers 1..4 on each panel.
  for (const e of ['1', '2', '3', '4']) assert.equal(l.filter((s) => s === e).length, 2, `epoch tick ${e}`);
  const lines = [...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1].split(' ').length);
  assert.deepEqual(lines, [4, 4, 4, 4]);
  const png = await svgToPng(svg);
  await assertPlotPng(png, TRAINING_CURVES_SIZE.width, TRAINING_CURVES_SIZE.height);
  assert.ok((await countColour(png, '#1f77b4')) > 300, 'train curve (blue) not drawn');
  assert.ok((await countColour(png, '#ff7f0e')) > 300, 'validation curve (orange) not drawn');
});

test('training curves skip non-finite values instead of breaking the axis', () => {
  const svg = trainingCurvesSvg([...HISTORY, { ...HISTORY[3], epoch: 5, valLoss: NaN, trainLoss: Infinity }]);
  assert.ok(!svg.includes('NaN') && !svg.includes('Infinity'));
  assert.throws(() => trainingCurvesSvg([]), /history is empty/);
});

test('confusion heat map: counts, shares and class names in the cells and axes', async () => {
  const svg = confusionHeatmapSvg(METRICS);
  const l = labels(svg);
  for (const want of ['3', '1', '2', '4', '75.0% of true', '25.0% of true', '33.3% of true', '66.7% of true'])
    assert.ok(l.includes(want), `missing cell text '${want}'`);
  assert.equal(l.filter((s) => s === 'notsmoking').length, 2);
  assert.equal(l.filter((s) => s === 'smoking').length, 2);
  assert.ok(l.includes('true class') && l.includes('predicted class'));
  assert.ok(l.some((s) => s.includes('test split, threshold 0.5')));
  await assertPlotPng(await svgToPng(svg), CONFUSION_HEATMAP_SIZE.width, CONFUSION_HEATMAP_SIZE.height);
});

test('ROC curve: the AUC in the legend, the diagonal and the operating point', async () => {
  const svg = rocCurveSvg(METRICS);
  const l = labels(svg);
  assert.ok(l.includes('ROC (AUC = 0.7917)'));
  assert.ok(l.includes('chance (AUC = 0.5)'));
  assert.ok(l.includes('threshold 0.5'));
  assert.ok(l.includes('false positive rate') && l.includes('true positive rate (recall)'));
  assert.ok(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0'].every((t) => l.filter((s) => s === t).length === 2));
  // One polyline with the 8 ROC points of the example.
  const pts = svg.match(/<polyline points="([^"]*)"/)![1].split(' ');
  assert.equal(pts.length, METRICS.roc!.fpr.length);
  const png = await svgToPng(svg);
  await assertPlotPng(png, ROC_CURVE_SIZE.width, ROC_CURVE_SIZE.height);
  assert.ok((await countColour(png, '#1f77b4')) > 300, 'ROC curve (blue) not drawn');
  assert.ok((await countColour(png, '#d62728')) > 30, 'operating point (red) not drawn');
});

test('the ROC plot refuses single-class metrics', () => {
  const m = computeMetrics([1, 1], [0.3, 0.8], { classes: ['notsmoking', 'smoking'] });
  assert.throws(() => rocCurveSvg(m), /undefined when the labels hold one class/);
});

test('labels are XML-escaped', () => {
  const m = { ...METRICS, classes: ['<no>', 'a&b'] as [string, string] };
  const svg = confusionHeatmapSvg(m);
  assert.ok(svg.includes('&#60;no&#62;') && svg.includes('a&#38;b'));
});
