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
  const probs: Float32Array[] = [];
  const labels: number[] = [];
  const paths: string[] = [];
  for await (const b of batches) {
    const [n, c, h, w] = b.input.shape;
    const views = withViews(b.input.data, w, tta);
    const input = { dtype: 'float32' as const, shape: [views.length / (c * h * w), c, h, w], data: views };
    probs.push(probabilities(await logitsOf(input), numClasses, tta));
    if (probs.at(-1)!.length !== n * numClasses)
      throw new Error(`predict: the model gave ${probs.at(-1)!.length / numClasses} rows for ${n} images`);
    labels.push(...b.labels);
    paths.push(...b.paths);
  }
  const all = new Float32Array(labels.length * numClasses);
  let at = 0;
  for (const p of probs) {
    all.set(p, at);
    at += p.length;
  }
  const loss =
    labels.reduce((s, y, i) => s - Math.log(Math.max(all[i * numClasses + y], 1e-12)), 0) /
    Math.max(1, labels.length);
  return { numClasses, probs: all, labels: Int32Array.from(labels), paths, loss };
}

/** The share of images whose decided class (see classify) is their label, at the default threshold. */
export function accuracyOf(p: Predictions): number {
  let correct = 0;
  for (let i = 0; i < p.labels.length; i++)
    if (decide(p.probs, p.numClasses, i, DEFAULT_THRESHOLD) === p.labels[i]) correct++;
  return correct / Math.max(1, p.labels.length);
}
