import { positiveProbabilities } from '../classify/classify.js';
import { computeMetrics, type Metrics } from './metrics.js';
import { computeMulticlassMetrics, type MulticlassMetrics } from './multiclass-metrics.js';

/** A model's metrics: the binary ones for two classes, the K-class ones for more. */
export type ModelMetrics = Metrics | MulticlassMetrics;

export const isBinary = (m: ModelMetrics): m is Metrics => m.classes.length === 2;

/**
 * The metrics of one evaluation from true labels and the class probabilities [N, classes]: with two
 * classes those of P(positive) at `threshold` (computeMetrics), with more those of the most probable class.
 */
export function modelMetrics(
  labels: ArrayLike<number>,
  probs: Float32Array,
  o: { classes: string[]; threshold?: number; split?: string },
): ModelMetrics {
  return o.classes.length === 2
    ? computeMetrics(labels, positiveProbabilities(probs, 2), o)
    : computeMulticlassMetrics(labels, probs, o);
}

/**
 * The one F1 and ROC-AUC a table row shows: the positive class's F1 and the ROC-AUC for two classes,
 * the macro F1 and the one-vs-rest macro ROC-AUC for more.
 */
export function headlineScores(m: ModelMetrics): { f1: number; rocAuc: number | null } {
  return isBinary(m) ? { f1: m.f1, rocAuc: m.roc_auc } : { f1: m.macro.f1, rocAuc: m.roc_auc_ovr_macro };
}
