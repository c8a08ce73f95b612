import { decide } from '../classify/classify.js';
import { type ClassScores, classScores } from './class-scores.js';
import { rocAuc } from './roc.js';

/**
 * The metrics of a model of more than two classes, shaped as written to metrics.json (hence snake_case).
 * Each image gets its most probable class (no threshold); every figure has scikit-learn's semantics.
 */
export interface MulticlassMetrics {
  split: string | null;
  n: number;
  /** The class names in label order. */
  classes: string[];
  /** How an image's class is decided. */
  decision: 'most probable class';
  accuracy: number;
  /** K x K, rows the true class and columns the predicted one, in label order (`confusion_matrix`). */
  confusion_matrix: number[][];
  per_class: Record<string, ClassScores>;
  /** Unweighted means over the classes (`precision_recall_fscore_support(average='macro')`). */
  macro: { precision: number; recall: number; f1: number };
  /** Mean cross-entropy of the labels under the class probabilities (`log_loss`, clipped at 1e-15). */
  log_loss: number;
  /**
   * `roc_auc_score(y, P, multi_class='ovr', average='macro')`: the mean over classes of each class's
   * ROC-AUC against the rest. Null when a class is absent from the labels (scikit-learn raises there).
   */
  roc_auc_ovr_macro: number | null;
  /** Each class's one-vs-rest ROC-AUC (`average=None`), null for a class absent from the labels. */
  roc_auc_ovr_per_class: Record<string, number | null>;
  /** Why any number above is a convention rather than a measurement (e.g. a 0/0 set to 0). */
  notes: string[];
}

/**
 * Every metric of one evaluation of a K-class model (K > 2), from true labels in [0, K) and the class
 * probabilities [N, K] (row-major, each row summing to 1).
 */
export function computeMulticlassMetrics(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  { classes, split }: { classes: string[]; split?: string },
): MulticlassMetrics {
  const k = classes.length;
  checkInputs(labels, probs, classes);
  const n = labels.length;
  const cm = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < n; i++) cm[labels[i]][decide(probs, k, i, 0.5)]++;
  const notes: string[] = [];
  const scores = classes.map((name, c) => classScores(cm, c, name, notes));
  const mean = (pick: (s: ClassScores) => number) => scores.reduce((a, s) => a + pick(s), 0) / k;
  let loss = 0;
  for (let i = 0; i < n; i++)
    loss -= Math.log(Math.min(Math.max(probs[i * k + labels[i]], 1e-15), 1 - 1e-15));
  const aucs = classes.map((_, c) =>
    rocAuc(
      Int32Array.from(labels, (y) => (y === c ? 1 : 0)),
      Float64Array.from({ length: n }, (_, i) => probs[i * k + c]),
    ),
  );
  const absent = classes.filter((_, c) => aucs[c] === null);
  if (absent.length > 0)
    notes.push(
      `ROC-AUC (one-vs-rest) is undefined: no image is truly ${absent.map((c) => `'${c}'`).join(', ')}.`,
    );
  return {
    split: split ?? null,
    n,
    classes: [...classes],
    decision: 'most probable class',
    accuracy: cm.reduce((s, row, c) => s + row[c], 0) / n,
    confusion_matrix: cm,
    per_class: Object.fromEntries(classes.map((name, c) => [name, scores[c]])),
    macro: { precision: mean((s) => s.precision), recall: mean((s) => s.recall), f1: mean((s) => s.f1) },
    log_loss: loss / n,
    roc_auc_ovr_macro: absent.length > 0 ? null : (aucs as number[]).reduce((a, v) => a + v, 0) / k,
    roc_auc_ovr_per_class: Object.fromEntries(classes.map((name, c) => [name, aucs[c]])),
    notes,
  };
}

/** Fails loudly on inputs that would otherwise give a plausible-looking but wrong number. */
function checkInputs(labels: ArrayLike<number>, probs: ArrayLike<number>, classes: string[]): void {
  const k = classes.length;
  if (k < 3 || new Set(classes).size !== k || classes.some((c) => c === ''))
    throw new Error(`metrics: need three or more distinct class names, got ${JSON.stringify(classes)}`);
  if (probs.length !== labels.length * k)
    throw new Error(`metrics: ${labels.length} labels but ${probs.length} probabilities for ${k} classes`);
  if (labels.length === 0) throw new Error('metrics: no samples');
  for (let i = 0; i < labels.length; i++)
    if (!(Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < k))
      throw new Error(`metrics: label ${labels[i]} at index ${i} is not a class index in [0, ${k})`);
  for (let j = 0; j < probs.length; j++)
    if (!(probs[j] >= 0 && probs[j] <= 1))
      throw new Error(`metrics: probability ${probs[j]} at index ${j} is not in [0, 1]`);
}
