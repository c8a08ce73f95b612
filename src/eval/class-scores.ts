export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** Number of samples whose true class is this one. */
  support: number;
}

/**
 * Precision, recall and F1 of class `k` read off a K x K confusion matrix (rows: true class). Where a ratio
 * has a zero denominator it is reported as 0, as scikit-learn's default `zero_division` does,
 * and a note says so instead of a NaN spreading into the averages.
 */
export function classScores(
  cm: readonly (readonly number[])[],
  k: number,
  name: string,
  notes: string[],
): ClassScores {
  const tp = cm[k][k];
  const predicted = cm.reduce((s, row) => s + row[k], 0);
  const support = cm[k].reduce((s, v) => s + v, 0);
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
