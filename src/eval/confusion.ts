import { checkBinaryInputs } from './binary-inputs.js';

/** `[[tn, fp], [fn, tp]]`: rows are the true class, columns the predicted one (scikit-learn's layout). */
export type ConfusionMatrix = [[number, number], [number, number]];

/**
 * A sample is predicted positive when its probability is ≥ `threshold`: the same convention as
 * scikit-learn's `roc_curve`, so every ROC point is reachable with some threshold here.
 */
export function confusionMatrix(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  threshold = 0.5,
): ConfusionMatrix {
  checkBinaryInputs(labels, probs);
  if (Number.isNaN(threshold)) throw new Error('metrics: threshold is NaN');
  const cm: ConfusionMatrix = [
    [0, 0],
    [0, 0],
  ];
  for (let i = 0; i < labels.length; i++) cm[labels[i]][probs[i] >= threshold ? 1 : 0]++;
  return cm;
}
