import { formatScore, formatThreshold } from '../../eval/format-number.js';
import type { Metrics } from '../../eval/metrics.js';
import { drawAxes } from './axes.js';
import { legend } from './legend.js';
import { niceTicks } from './scale.js';
import { type Point, type StrokeStyle, circle, line, polyline, svgDocument, text } from './svg.js';

export const ROC_CURVE_SIZE = { width: 600, height: 580 };

const CURVE: StrokeStyle = { color: '#1f77b4', width: 2.5 };
const CHANCE: StrokeStyle = { color: '#888', width: 1.5, dash: '6 5' };
const POINT = '#d62728';

type RocInput = Pick<
  Metrics,
  'roc' | 'roc_auc' | 'confusion_matrix' | 'threshold' | 'positive_class' | 'split' | 'n'
>;

/**
 * The ROC curve with the chance diagonal, the AUC in the legend and a dot where the report's
 * threshold operates. Square axes, so the diagonal is at 45°.
 */
export function rocCurveSvg(m: RocInput): string {
  if (m.roc === null || m.roc_auc === null)
    throw new Error('ROC curve: undefined when the labels hold one class');
  const { width, height } = ROC_CURVE_SIZE;
  const f = { x: 110, y: 70, w: 440, h: 440 };
  const unit = niceTicks(0, 1);
  const axes = drawAxes(
    f,
    { ticks: unit, title: 'false positive rate' },
    { ticks: unit, title: 'true positive rate (recall)' },
  );
  const px = ([x, y]: Point): Point => [axes.sx(x), axes.sy(y)];
  const roc = m.roc;
  const op = operatingPoint(m.confusion_matrix);
  const key = legend(
    [
      { label: `ROC (AUC = ${formatScore(m.roc_auc)})`, stroke: CURVE },
      { label: 'chance (AUC = 0.5)', stroke: CHANCE },
      { label: `threshold ${formatThreshold(m.threshold)}`, marker: POINT },
    ],
    'rows',
  );
  return svgDocument(width, height, [
    text(width / 2, 22, 'ROC curve', { size: 18, bold: true, anchor: 'middle' }),
    text(width / 2, 46, subtitle(m), { size: 13, anchor: 'middle', fill: '#555' }),
    ...axes.svg,
    line(px([0, 0]), px([1, 1]), CHANCE),
    polyline(
      roc.fpr.map((x, i) => px([x, roc.tpr[i]])),
      CURVE,
    ),
    circle(px(op), 5.5, POINT, { color: '#ffffff', width: 1.5 }),
    key.at(f.x + f.w - key.w - 10, f.y + f.h - key.h - 10),
  ]);
}

/** (FPR, TPR) of the thresholded predictions. */
function operatingPoint([[tn, fp], [fn, tp]]: Metrics['confusion_matrix']): Point {
  return [fp / (fp + tn), tp / (tp + fn)];
}

function subtitle(m: RocInput): string {
  const on = m.split === null ? '' : `${m.split} split, `;
  return `${on}n = ${m.n}, positive class: ${m.positive_class}`;
}
