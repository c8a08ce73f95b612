import type { Tensor } from '../graph/tensor.js';
import type { Batch } from '../data/loader.js';

/** Anything that maps a batch [N,3,H,W] to logits [N, classes]. */
export interface LogitsFn {
  (input: Tensor<'float32'>): Promise<Float32Array>;
}

export interface Predictions {
  numClasses: number;
  /** Softmax probabilities, [N, classes] row-major. */
  probs: Float32Array;
  labels: Int32Array;
  paths: string[];
  /** Mean cross-entropy against `labels`. */
  loss: number;
}

/** Mirrors a batch left-right: the same as flipping each image before normalising. */
export function flipBatch(t: Tensor<'float32'>): Tensor<'float32'> {
  const w = t.shape[3];
  const out = new Float32Array(t.data.length);
  for (let row = 0; row < t.data.length; row += w)
    for (let x = 0; x < w; x++) out[row + x] = t.data[row + w - 1 - x];
  return { dtype: 'float32', shape: [...t.shape], data: out };
}

/** Adds weight·softmax(row) of each logits row into `out`. */
export function addSoftmax(logits: Float32Array, c: number, out: Float32Array, weight: number): void {
  for (let i = 0; i < logits.length / c; i++) {
    const row = logits.subarray(i * c, (i + 1) * c);
    const max = Math.max(...row);
    const exps = Array.from(row, (v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    for (let k = 0; k < c; k++) out[i * c + k] += (weight * exps[k]) / sum;
  }
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
  const probs: Float32Array[] = [];
  const labels: number[] = [];
  const paths: string[] = [];
  for await (const b of batches) {
    const p = new Float32Array(b.labels.length * numClasses);
    const views = opts.tta ? [b.input, flipBatch(b.input)] : [b.input];
    for (const v of views) addSoftmax(await logitsOf(v), numClasses, p, 1 / views.length);
    probs.push(p);
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

export function accuracyOf(p: Predictions): number {
  let correct = 0;
  for (let i = 0; i < p.labels.length; i++) {
    const row = p.probs.subarray(i * p.numClasses, (i + 1) * p.numClasses);
    if (row.indexOf(Math.max(...row)) === p.labels[i]) correct++;
  }
  return correct / Math.max(1, p.labels.length);
}

/** P(positive class) per sample; the positive class is the last (e.g. 'smoking'). */
export function positiveProbs(p: Predictions): Float32Array {
  return Float32Array.from({ length: p.labels.length }, (_, i) => p.probs[(i + 1) * p.numClasses - 1]);
}
