import { type ClassScores, classScores } from './class-scores.js';
import { type ConfusionMatrix, confusionMatrix } from './confusion.js';
import { type Calibration, calibration } from './calibration.js';
import { type RocCurve, rocAuc, rocCurve } from './roc.js';

export interface MetricsOptions {
  /** `[negative, positive]` class names, e.g. `['notsmoking', 'smoking']`. */
  classes: string[];
  /** A sample is predicted positive when its probability is ≥ this. */
  threshold?: number;
  /** Which data the metrics were measured on, e.g. 'test'. */
  split?: string;
}

/**
 * Binary classification metrics, shaped as written to metrics.json (hence snake_case). The
 * top-level precision, recall and F1 are those of the positive class.
 */
export interface Metrics {
  split: string | null;
  n: number;
  classes: [string, string];
  positive_class: string;
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  confusion_matrix: ConfusionMatrix;
  per_class: Record<string, ClassScores>;
  /** Unweighted means over the two classes (scikit-learn's `average='macro'`). */
  macro: { precision: number; recall: number; f1: number };
  /** Null when the labels hold a single class, where ROC is undefined. */
  roc_auc: number | null;
  roc: RocCurve | null;
  /** Reliability of P(positive): the calibration curve's bins and the expected calibration error. */
  calibration: Calibration;
  /** Mean cross-entropy of the labels under P(positive) (scikit-learn's log_loss, clipped at 1e-15). */
  log_loss: number;
  /** Why any number above is a convention rather than a measurement (e.g. a 0/0 set to 0). */
  notes: string[];
}

/** Every metric of one evaluation, from true labels (0/1) and positive-class probabilities. */
export function computeMetrics(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  { classes, threshold = 0.5, split }: MetricsOptions,
): Metrics {
  const [negName, posName] = checkClasses(classes);
  const cm = confusionMatrix(labels, probs, threshold);
  const notes: string[] = [];
  const neg = classScores(cm, 0, negName, notes);
  const pos = classScores(cm, 1, posName, notes);
  const auc = rocAuc(labels, probs);
  if (auc === null) notes.push('ROC-AUC is undefined: the labels hold only one class.');
  return {
    split: split ?? null,
    n: labels.length,
    classes: [negName, posName],
    positive_class: posName,
    threshold,
    accuracy: (cm[0][0] + cm[1][1]) / labels.length,
    precision: pos.precision,
    recall: pos.recall,
    f1: pos.f1,
    confusion_matrix: cm,
    per_class: { [negName]: neg, [posName]: pos },
    macro: {
      precision: (neg.precision + pos.precision) / 2,
      recall: (neg.recall + pos.recall) / 2,
      f1: (neg.f1 + pos.f1) / 2,
    },
    roc_auc: auc,
    roc: rocCurve(labels, probs),
    calibration: calibration(labels, probs),
    log_loss: logLoss(labels, probs),
    notes,
  };
}

function checkClasses(classes: string[]): [string, string] {
  if (classes.length !== 2 || classes[0] === classes[1] || classes.some((c) => c === ''))
    throw new Error(
      `metrics: need two distinct class names [negative, positive], got ${JSON.stringify(classes)}`,
    );
  return [classes[0], classes[1]];
}

function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(Math.max(probs[i], 1e-15), 1 - 1e-15);
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / labels.length;
}
