import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatScore as f, formatThreshold } from '../eval/format-number.js';
import { multiclassRows } from '../eval/format-table.js';
import type { Metrics } from '../eval/metrics.js';
import { isBinary, type ModelMetrics } from '../eval/model-metrics.js';
import type { MulticlassMetrics } from '../eval/multiclass-metrics.js';
import type { ParamSummary } from '../lora/param-table.js';
import { RUN_FILES } from '../run/files.js';
import { writeFileAtomic } from '../weights/atomic-write.js';
import { flattenConfig } from './flatten-config.js';
import { markdownTable } from './markdown-table.js';
import type { EpochRecord } from '../train/history.js';
import { type RenderedPlot, renderPlots } from './render-plots.js';

export interface ReportInput {
  /** Held-out metrics; a run trained on every labelled image has none. */
  metrics?: ModelMetrics;
  /** Per-epoch training record; without it the report has no training section. */
  history?: readonly EpochRecord[];
  /** The hyperparameters and settings of the run; nested objects become dotted keys. */
  config: Record<string, unknown>;
  paramSummary?: ParamSummary;
  /** Wall-clock seconds per phase, e.g. `{ training: 812, evaluation: 9.5 }`. */
  timing?: Record<string, number>;
  /** How the recipe was chosen, as a paragraph under its own heading. */
  note?: string;
}

export interface ReportFiles {
  report: string;
  /** Absent without metrics. */
  metrics?: string;
  plots: string[];
}

/**
 * Writes the PNG plots, metrics.json and report.md into `dir` (created if needed). Each file is
 * replaced atomically, so none is ever half-written, and report.md goes last, so it never
 * links a plot that is not there yet.
 */
export async function writeReport(dir: string, input: ReportInput): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const plots = await renderPlots(dir, input.metrics, input.history);
  const report = join(dir, RUN_FILES.report);
  const metrics = input.metrics ? join(dir, RUN_FILES.metrics) : undefined;
  // JSON has no Infinity: the ROC curve's first threshold (above every score) is written as null.
  if (metrics) await writeFileAtomic(metrics, utf8(`${JSON.stringify(input.metrics, null, 2)}\n`));
  await writeFileAtomic(report, utf8(reportMarkdown(input, plots)));
  return { report, metrics, plots: plots.map((p) => join(dir, p.file)) };
}

/** The report's Markdown, linking `plots` by their file names (relative to report.md). */
export function reportMarkdown(input: ReportInput, plots: RenderedPlot[]): string {
  const { metrics: m } = input;
  const image = (file: string) => plots.filter((p) => p.file === file).map((p) => `![${p.title}](${p.file})`);
  const binary = m && isBinary(m) ? m : undefined;
  const multi = m && !isBinary(m) ? m : undefined;
  const sections = [
    [binary || !m ? '# Smoking detection report' : '# Classification report'],
    input.note ? ['## How the recipe was chosen', input.note] : [],
    binary
      ? measuredSection(binary)
      : multi
        ? multiMeasuredSection(multi)
        : ['## How it was measured', NO_HELD_OUT],
    binary ? metricsSection(binary) : multi ? multiMetricsSection(multi) : [],
    m ? [...confusionSection(m), ...image(RUN_FILES.confusionPlot)] : [],
    binary?.roc ? ['## ROC curve', ...image(RUN_FILES.rocPlot)] : [],
    binary ? [...calibrationSection(binary), ...image(RUN_FILES.reliabilityPlot)] : [],
    input.history?.length ? [...historySection(input.history), ...image(RUN_FILES.curvesPlot)] : [],
    ['## Configuration', markdownTable(['setting', 'value'], flattenConfig(input.config))],
    input.paramSummary ? paramSection(input.paramSummary) : [],
    input.timing ? timingSection(input.timing) : [],
    m && m.notes.length > 0 ? ['## Notes', m.notes.map((n) => `- ${n}`).join('\n')] : [],
  ];
  return `${sections
    .filter((s) => s.length > 0)
    .map((s) => s.join('\n\n'))
    .join('\n\n')}\n`;
}

function measuredSection(m: Metrics): string[] {
  const [neg, pos] = m.classes;
  const counts = `${m.per_class[neg].support} ${neg}, ${m.per_class[pos].support} ${pos}`;
  return [
    '## How it was measured',
    [
      `- Split: ${m.split === null ? 'not recorded' : `\`${m.split}\``}, ${m.n} images (${counts}).`,
      `- An image counts as **${pos}** when the model's probability of ${pos} is ≥ ${formatThreshold(m.threshold)}.`,
      `- Precision, recall and F1 without a class name are those of the positive class, ${pos}.`,
    ].join('\n'),
  ];
}

function metricsSection(m: Metrics): string[] {
  const pos = m.positive_class;
  const summary: string[][] = [
    ['accuracy', f(m.accuracy)],
    [`precision (${pos})`, f(m.precision)],
    [`recall (${pos})`, f(m.recall)],
    [`F1 (${pos})`, f(m.f1)],
    ['ROC-AUC', m.roc_auc === null ? 'n/a' : f(m.roc_auc)],
  ];
  const perClass = [
    ...m.classes.map((c) => {
      const s = m.per_class[c];
      return [c, f(s.precision), f(s.recall), f(s.f1), String(s.support)];
    }),
    ['macro avg', f(m.macro.precision), f(m.macro.recall), f(m.macro.f1), String(m.n)],
  ];
  return [
    '## Metrics',
    markdownTable(['metric', 'value'], summary, ['left', 'right']),
    '### Per class',
    markdownTable(['class', 'precision', 'recall', 'F1', 'support'], perClass, [
      'left',
      'right',
      'right',
      'right',
      'right',
    ]),
  ];
}

function multiMeasuredSection(m: MulticlassMetrics): string[] {
  const counts = m.classes.map((c) => `${m.per_class[c].support} ${c}`).join(', ');
  return [
    '## How it was measured',
    [
      `- Split: ${m.split === null ? 'not recorded' : `\`${m.split}\``}, ${m.n} images (${counts}).`,
      `- ${m.classes.length} classes: each image gets its most probable class (no threshold).`,
      '- Precision, recall and F1 without a class name are macro averages (the unweighted mean over the classes); ROC-AUC is one-vs-rest, macro-averaged.',
    ].join('\n'),
  ];
}

function multiMetricsSection(m: MulticlassMetrics): string[] {
  const auc = (v: number | null) => (v === null ? 'n/a' : f(v));
  const summary: string[][] = [
    ['accuracy', f(m.accuracy)],
    ['precision (macro)', f(m.macro.precision)],
    ['recall (macro)', f(m.macro.recall)],
    ['F1 (macro)', f(m.macro.f1)],
    ['ROC-AUC (one-vs-rest, macro)', auc(m.roc_auc_ovr_macro)],
    ['log loss', f(m.log_loss)],
  ];
  const perClass = multiclassRows(m);
  return [
    '## Metrics',
    markdownTable(['metric', 'value'], summary, ['left', 'right']),
    '### Per class',
    markdownTable(['class', 'precision', 'recall', 'F1', 'ROC-AUC (vs rest)', 'support'], perClass, [
      'left',
      ...Array<'right'>(5).fill('right'),
    ]),
  ];
}

function confusionSection(m: Pick<ModelMetrics, 'confusion_matrix' | 'classes'>): string[] {
  const rows = m.confusion_matrix.map((r, i) => [`**${m.classes[i]}**`, ...r.map(String)]);
  return [
    '## Confusion matrix',
    'Rows are the true class, columns the predicted class.',
    markdownTable(['true / predicted', ...m.classes], rows, [
      'left',
      ...m.classes.map(() => 'right' as const),
    ]),
  ];
}

const NO_HELD_OUT =
  'The model was trained on every labelled image, so no image is left to measure it on here. Its expected accuracy is the cross-validation estimate of its recipe.';

function calibrationSection(m: Metrics): string[] {
  return [
    '## Calibration',
    `Expected calibration error ${f(m.calibration.ece)} over ${m.calibration.bins.length} equal-width bins of P(${m.positive_class}): the mean gap between the predicted probability and the observed share of ${m.positive_class}, weighted by the images in each bin.`,
  ];
}

const maybe = (v: number | null) => (v === null || !Number.isFinite(v) ? '-' : f(v));

function historySection(history: readonly EpochRecord[]): string[] {
  const total = history.reduce((s, r) => s + r.seconds, 0);
  const scored = history.filter((r): r is EpochRecord & { valLoss: number } => Number.isFinite(r.valLoss));
  const best = scored.length > 0 ? scored.reduce((a, b) => (b.valLoss < a.valLoss ? b : a)) : undefined;
  const rows = history.map((r) => [
    String(r.epoch),
    f(r.trainLoss),
    maybe(r.valLoss),
    f(r.trainAcc),
    maybe(r.valAcc),
    String(Number(r.lr.toPrecision(3))),
    r.seconds.toFixed(1),
  ]);
  return [
    '## Training',
    `${history.length} epochs in ${duration(total)}` +
      (best ? `; lowest validation loss ${f(best.valLoss)} at epoch ${best.epoch}.` : '.'),
    markdownTable(
      ['epoch', 'train loss', 'val loss', 'train acc', 'val acc', 'lr', 'seconds'],
      rows,
      Array(7).fill('right'),
    ),
  ];
}

function paramSection(p: ParamSummary): string[] {
  const count = (n: number) => n.toLocaleString('en-US');
  const rows = [
    ['LoRA adapters', count(p.adapter)],
    ['classifier head', count(p.head)],
    ['trainable', count(p.trainable)],
    ['all', count(p.total)],
    ['trainable share', `${p.percent.toFixed(4)}%`],
  ];
  return ['## Parameters', markdownTable(['parameters', 'count'], rows, ['left', 'right'])];
}

function timingSection(timing: Record<string, number>): string[] {
  const rows = Object.entries(timing).map(([phase, s]) => [phase, duration(s)]);
  return ['## Timing', markdownTable(['phase', 'wall time'], rows, ['left', 'right'])];
}

/** 9.5 → "9.5 s", 812 → "13 min 32 s", 7300 → "2 h 1 min 40 s". */
function duration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const [h, min, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  return [h > 0 ? `${h} h` : '', `${min} min`, `${sec} s`].filter(Boolean).join(' ');
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
