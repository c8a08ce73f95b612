import { DEFAULT_THRESHOLD, decide, probabilities, withViews } from '../classify/classify.js';
import type { Batch } from '../data/loader.js';
import type { Tensor } from '../graph/tensor.js';

/** Anything that maps a batch [N,3,H,W] to logits [N, classes]. */
export interface LogitsFn {
  (input: Tensor<'float32'>): Promise<Float32Array>;
}

export interface Predictions {
  numClasses: number;
  /** Class probabilities, [N, classes] row-major (see classify). */
  probs: Float32Array;
  labels: Int32Array;
  paths: string[];
  /** Mean cross-entropy against `labels`. */
  loss: number;
}

/** A batch's probabilities [n, classes] beside its labels and files. */
export interface ScoredBatch {
  probs: Float32Array;
  labels: Int32Array;
  paths: readonly string[];
}

/**
 * Class probabilities for every batch, optionally averaged with the mirrored image (test-time flip,
 * the augmentation the model was trained with).
 */
export async function predict(
  logitsOf: LogitsFn,
  batches: AsyncIterable<Batch>,
  numClasses: number,
  opts: { tta?: boolean } = {},
): Promise<Predictions> {
  const tta = opts.tta ?? false;
  const scored: ScoredBatch[] = [];
  for await (const b of batches) {
    const logits = await logitsOf(viewsOf(b.input, tta));
    scored.push({ probs: probabilities(logits, numClasses, tta), labels: b.labels, paths: b.paths });
  }
  return predictionsOf(scored, numClasses);
}

/** A batch [N,3,H,W] and, with test-time flip, its mirror after it: [views·N,3,H,W]. */
export function viewsOf(input: Tensor<'float32'>, tta: boolean): Tensor<'float32'> {
  const [, c, h, w] = input.shape;
  const views = withViews(input.data, w, tta);
  return { dtype: 'float32', shape: [views.length / (c * h * w), c, h, w], data: views };
}

/** Scored batches as one set of predictions, with its mean cross-entropy. */
export function predictionsOf(scored: readonly ScoredBatch[], numClasses: number): Predictions {
  const labels = scored.flatMap((b) => [...b.labels]);
  const all = new Float32Array(labels.length * numClasses);
  let at = 0;
  for (const b of scored) {
    if (b.probs.length !== b.labels.length * numClasses)
      throw new Error(
        `predict: the model gave ${b.probs.length / numClasses} rows for ${b.labels.length} images`,
      );
    all.set(b.probs, at);
    at += b.probs.length;
  }
  const loss =
    labels.reduce((s, y, i) => s - Math.log(Math.max(all[i * numClasses + y], 1e-12)), 0) /
    Math.max(1, labels.length);
  return {
    numClasses,
    probs: all,
    labels: Int32Array.from(labels),
    paths: scored.flatMap((b) => b.paths),
    loss,
  };
}

/** The share of images whose decided class (see classify) is their label, at the default threshold. */
export function accuracyOf(p: Predictions): number {
  let correct = 0;
  for (let i = 0; i < p.labels.length; i++)
    if (decide(p.probs, p.numClasses, i, DEFAULT_THRESHOLD) === p.labels[i]) correct++;
  return correct / Math.max(1, p.labels.length);
}
