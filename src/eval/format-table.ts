import { formatScore as f, formatThreshold } from './format-number.js';
import type { Metrics } from './metrics.js';
import { isBinary, type ModelMetrics } from './model-metrics.js';
import type { MulticlassMetrics } from './multiclass-metrics.js';

const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

/**
 * The metrics as a plain-text table for the terminal: per-class rows, macro average, accuracy,
 * ROC-AUC, then the confusion matrix with class names. `color` adds bold headings only; pass
 * `process.stdout.isTTY` so piped output stays free of escape codes.
 */
export function formatMetricsTable(m: ModelMetrics, { color }: { color: boolean }): string {
  return isBinary(m) ? binaryTable(m, color) : multiclassTable(m, color);
}

function binaryTable(m: Metrics, color: boolean): string {
  const bold = (s: string) => (color ? BOLD + s + RESET : s);
  const scores = [
    ...m.classes.map((c) => {
      const s = m.per_class[c];
      return [c, f(s.precision), f(s.recall), f(s.f1), String(s.support)];
    }),
    ['macro avg', f(m.macro.precision), f(m.macro.recall), f(m.macro.f1), String(m.n)],
    ['accuracy', '', '', f(m.accuracy), String(m.n)],
    ['ROC-AUC', '', '', m.roc_auc === null ? 'n/a' : f(m.roc_auc), ''],
  ];
  const [[tn, fp], [fn, tp]] = m.confusion_matrix;
  const matrix = [
    [m.classes[0], String(tn), String(fp)],
    [m.classes[1], String(fn), String(tp)],
  ];
  return [
    bold(
      `${m.split ?? 'evaluation'}: ${m.n} samples, '${m.positive_class}' when p ≥ ${formatThreshold(m.threshold)}`,
    ),
    '',
    ...alignRows([['class', 'precision', 'recall', 'f1', 'support'], ...scores], bold),
    '',
    bold('confusion matrix (rows: true class, columns: predicted)'),
    ...alignRows([['', ...m.classes], ...matrix], bold),
    ...(m.notes.length > 0 ? ['', ...m.notes.map((n) => `note: ${n}`)] : []),
  ].join('\n');
}

/** The K-class table: per-class rows with each class's one-vs-rest ROC-AUC, then the K x K matrix. */
function multiclassTable(m: MulticlassMetrics, color: boolean): string {
  const bold = (s: string) => (color ? BOLD + s + RESET : s);
  const scores = [
    ...multiclassRows(m),
    ['accuracy', '', '', f(m.accuracy), '', String(m.n)],
    ['log loss', '', '', f(m.log_loss), '', ''],
  ];
  return [
    bold(`${m.split ?? 'evaluation'}: ${m.n} samples, ${m.classes.length} classes, the most probable class`),
    '',
    ...alignRows([['class', 'precision', 'recall', 'f1', 'roc-auc (ovr)', 'support'], ...scores], bold),
    '',
    bold('confusion matrix (rows: true class, columns: predicted)'),
    ...alignRows(
      [['', ...m.classes], ...m.confusion_matrix.map((r, i) => [m.classes[i], ...r.map(String)])],
      bold,
    ),
    ...(m.notes.length > 0 ? ['', ...m.notes.map((n) => `note: ${n}`)] : []),
  ].join('\n');
}

/** First column left-aligned, the rest right-aligned; the header row is styled. */
function alignRows(rows: string[][], header: (s: string) => string): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  return rows.map((r, i) => (i === 0 ? header(line(r)) : line(r)));
}

/** A K-class model's rows: class, precision, recall, F1, one-vs-rest ROC-AUC, support; then the macro averages. */
export function multiclassRows(m: MulticlassMetrics): string[][] {
  const auc = (v: number | null) => (v === null ? 'n/a' : f(v));
  return [
    ...m.classes.map((c) => {
      const s = m.per_class[c];
      return [c, f(s.precision), f(s.recall), f(s.f1), auc(m.roc_auc_ovr_per_class[c]), String(s.support)];
    }),
    [
      'macro avg',
      f(m.macro.precision),
      f(m.macro.recall),
      f(m.macro.f1),
      auc(m.roc_auc_ovr_macro),
      String(m.n),
    ],
  ];
}
