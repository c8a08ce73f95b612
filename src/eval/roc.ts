import { checkBinaryInputs, countPositives } from './binary-inputs.js';

/**
 * ROC curve points, as scikit-learn's `roc_curve` returns them: one point per distinct score
 * (highest first) after dropping points that lie on a straight segment, starting at (0, 0) with
 * threshold +Infinity (null once written as JSON). Sample i is predicted positive at
 * `thresholds[j]` when `probs[i] >= thresholds[j]`.
 */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  thresholds: number[];
}

/** Cumulative false and true positive counts at each distinct threshold, highest first. */
interface Counts {
  fps: number[];
  tps: number[];
  thresholds: number[];
}

/**
 * The ROC curve, or null when the labels hold only one class (either rate would divide by
 * zero; scikit-learn warns and returns NaNs there).
 */
export function rocCurve(labels: ArrayLike<number>, probs: ArrayLike<number>): RocCurve | null {
  checkBinaryInputs(labels, probs);
  const c = dropCollinear(thresholdCounts(labels, probs));
  const negatives = c.fps[c.fps.length - 1];
  const positives = c.tps[c.tps.length - 1];
  if (negatives === 0 || positives === 0) return null;
  return {
    fpr: [0, ...c.fps.map((f) => f / negatives)],
    tpr: [0, ...c.tps.map((t) => t / positives)],
    thresholds: [Infinity, ...c.thresholds],
  };
}

/**
 * Area under the ROC curve, equal to scikit-learn's `roc_auc_score`: trapezoids over the
 * distinct thresholds, so tied scores count half. Summed in integer counts and divided once,
 * so it is exact up to that one rounding. Null when the labels hold only one class (where
 * scikit-learn raises).
 */
export function rocAuc(labels: ArrayLike<number>, probs: ArrayLike<number>): number | null {
  checkBinaryInputs(labels, probs);
  const positives = countPositives(labels);
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return null;
  const { fps, tps } = thresholdCounts(labels, probs);
  // The curve starts at (0, 0), before the highest threshold.
  let [twiceArea, prevFp, prevTp] = [0, 0, 0];
  for (let j = 0; j < fps.length; j++) {
    twiceArea += (fps[j] - prevFp) * (tps[j] + prevTp);
    [prevFp, prevTp] = [fps[j], tps[j]];
  }
  return twiceArea / (2 * positives * negatives);
}

/** scikit-learn's `_binary_clf_curve`: counts predicted positive at each distinct score. */
function thresholdCounts(labels: ArrayLike<number>, probs: ArrayLike<number>): Counts {
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => probs[b] - probs[a]);
  const out: Counts = { fps: [], tps: [], thresholds: [] };
  let tp = 0;
  for (let r = 0; r < order.length; r++) {
    tp += labels[order[r]];
    // Only the last sample of a run of equal scores closes a threshold: ties move together.
    if (r + 1 < order.length && probs[order[r + 1]] === probs[order[r]]) continue;
    out.fps.push(r + 1 - tp);
    out.tps.push(tp);
    out.thresholds.push(probs[order[r]]);
  }
  return out;
}

/**
 * Keeps the ends and every point where the curve bends (`drop_intermediate=True`). Applied
 * before the (0, 0) start is prepended, as scikit-learn does, so the point lists match.
 */
function dropCollinear(c: Counts): Counts {
  const keep = (j: number) =>
    j === 0 ||
    j === c.fps.length - 1 ||
    c.fps[j + 1] - 2 * c.fps[j] + c.fps[j - 1] !== 0 ||
    c.tps[j + 1] - 2 * c.tps[j] + c.tps[j - 1] !== 0;
  const idx = c.fps.map((_, j) => j).filter(keep);
  return {
    fps: idx.map((j) => c.fps[j]),
    tps: idx.map((j) => c.tps[j]),
    thresholds: idx.map((j) => c.thresholds[j]),
  };
}
