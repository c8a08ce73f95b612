import { checkBinaryInputs, countPositives } from './binary-inputs.js';

/**
 * The highest threshold at which the recall of the positive class is still ≥ `targetRecall`
 * (with "positive when prob ≥ threshold"). It is the k-th highest positive score, k =
 * ⌈target · positives⌉; negatives do not move it. Meant for validation data: tune here, then
 * report the test metrics at the returned threshold.
 */
export function thresholdForRecall(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  targetRecall: number,
): number {
  checkBinaryInputs(labels, probs);
  if (!(targetRecall > 0 && targetRecall <= 1))
    throw new Error(`thresholdForRecall: target recall ${targetRecall} is not in (0, 1]`);
  const positives = countPositives(labels);
  if (positives === 0) throw new Error('thresholdForRecall: no positive sample to measure recall on');
  const scores: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) scores.push(probs[i]);
  scores.sort((a, b) => b - a);
  // The epsilon keeps 0.9 · 10 = 9.000000000000002 from demanding a 10th positive.
  const k = Math.max(1, Math.ceil(targetRecall * positives - 1e-9));
  return scores[k - 1];
}
