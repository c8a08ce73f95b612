import type { ConfusionMatrix } from './confusion.js';

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Number of samples whose true class is this one. */
  support: number;
}

/**
 * Precision, recall and F1 of class `k` (0 or 1) read off the confusion matrix. Where a ratio
 * has a zero denominator it is reported as 0, as scikit-learn's default `zero_division` does,
 * and a note says so instead of a NaN spreading into the averages.
 */
export function classScores(cm: ConfusionMatrix, k: 0 | 1, name: string, notes: string[]): ClassScores {
  const tp = cm[k][k];
  const predicted = cm[0][k] + cm[1][k];
  const support = cm[k][0] + cm[k][1];
  const ratio = (num: number, den: number, what: string, why: string) => {
    if (den > 0) return num / den;
    notes.push(`${what} of '${name}' is undefined (${why}); reported as 0, as scikit-learn does.`);
    return 0;
  };
  return {
    precision: ratio(tp, predicted, 'precision', `no sample was predicted '${name}'`),
    recall: ratio(tp, support, 'recall', `no sample is truly '${name}'`),
    // 2tp / (2tp + fp + fn) is the harmonic mean of precision and recall, without a 0/0 when tp = 0.
    f1: ratio(2 * tp, predicted + support, 'F1', `'${name}' was neither present nor predicted`),
    support,
  };
}
