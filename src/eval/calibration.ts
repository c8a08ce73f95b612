import { checkBinaryInputs } from './binary-inputs.js';

export interface CalibrationBin {
  /** The bin's probability range (lo, hi]; the first bin includes 0. */
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted P(positive) of the bin's samples (null when empty). */
  predicted: number | null;
  /** Share of the bin's samples that are positive (null when empty). */
  observed: number | null;
}

export interface Calibration {
  /** Σ (count/N)·|observed − predicted| over the bins. */
  ece: number;
  bins: CalibrationBin[];
}

/**
 * How well P(positive) matches the observed share of positives: equal-width bins of the predicted
 * probability, exactly as scikit-learn's `calibration_curve(strategy='uniform')` bins them (a
 * probability on an edge, as numpy's linspace computes the edges, goes to the lower bin), and the
 * expected calibration error over them.
 */
export function calibration(labels: ArrayLike<number>, probs: ArrayLike<number>, nBins = 10): Calibration {
  checkBinaryInputs(labels, probs);
  const count = new Array<number>(nBins).fill(0);
  const sumP = new Array<number>(nBins).fill(0);
  const sumY = new Array<number>(nBins).fill(0);
  const step = 1 / nBins;
  const edges = Array.from({ length: nBins - 1 }, (_, k) => (k + 1) * step);
  for (let i = 0; i < labels.length; i++) {
    let b = 0;
    while (b < edges.length && edges[b] < probs[i]) b++;
    count[b]++;
    sumP[b] += probs[i];
    sumY[b] += labels[i];
  }
  let ece = 0;
  const bins = count.map((n, b) => {
    const predicted = n > 0 ? sumP[b] / n : null;
    const observed = n > 0 ? sumY[b] / n : null;
    if (n > 0) ece += (n / labels.length) * Math.abs(observed! - predicted!);
    return { lo: b * step, hi: (b + 1) * step, count: n, predicted, observed };
  });
  return { ece, bins };
}
