import { attr, type Graph } from '../graph/ir.js';
import { f32, type Tensor } from '../graph/tensor.js';

export interface CrossEntropyOptions {
  /** Per-class weights, as `nn.CrossEntropyLoss(weight=...)`. */
  weights?: ArrayLike<number>;
  /** As `nn.CrossEntropyLoss(label_smoothing=...)`, in [0, 1]. */
  labelSmoothing?: number;
}

/**
 * Appends the loss -Σ K·log_softmax(logits) over logits [N,C] and the float input `coeffs` K [N,C] from
 * `crossEntropyCoefficients`, and returns the name of the scalar loss. Labels, class weights, smoothing
 * and the mean's normaliser all live in K, so one graph serves every batch and the generic gradient rules
 * differentiate it.
 */
export function appendCrossEntropy(g: Graph, logits: string, coeffs: string): string {
  const logProbs = g.op('LogSoftmax', [logits], { axis: attr.int(1) }, g.fresh('ce.log_softmax'));
  const total = g.op('ReduceSum', [g.op('Mul', [coeffs, logProbs])], { keepdims: attr.int(0) });
  return g.op('Neg', [total], {}, g.fresh('ce.loss'));
}

/**
 * K for a mixed batch (mixup, CutMix): each image is λ of itself and 1 − λ of its partner, and the
 * loss is λ·CE(labels) + (1 − λ)·CE(partner labels), which, CE being linear in K, is one K.
 */
export function mixedCoefficients(
  labels: ArrayLike<number>,
  partnerLabels: ArrayLike<number>,
  lambda: number,
  numClasses: number,
  opts: CrossEntropyOptions = {},
): Tensor<'float32'> {
  if (!(lambda >= 0 && lambda <= 1))
    throw new Error(`cross-entropy: mixing weight ${lambda} is not in [0, 1]`);
  const a = crossEntropyCoefficients(labels, numClasses, opts).data;
  const b = crossEntropyCoefficients(partnerLabels, numClasses, opts).data;
  return f32(
    [labels.length, numClasses],
    Float64Array.from(a, (v, i) => lambda * v + (1 - lambda) * b[i]),
  );
}

/**
 * K for `appendCrossEntropy` so that the loss equals PyTorch's
 * `nn.CrossEntropyLoss(weight=w, label_smoothing=eps, reduction='mean')` on integer labels y:
 * K[i,c] = ((1-eps)·w[y_i]·[c = y_i] + eps/C·w[c]) / Σ_i w[y_i]. PyTorch normalises the smoothing term by
 * the same Σ_i w[y_i] as the weighted NLL term.
 */
export function crossEntropyCoefficients(
  labels: ArrayLike<number>,
  numClasses: number,
  opts: CrossEntropyOptions = {},
): Tensor<'float32'> {
  const c = numClasses;
  const w = opts.weights ?? new Float64Array(c).fill(1);
  const eps = opts.labelSmoothing ?? 0;
  if (w.length !== c) throw new Error(`cross-entropy: ${w.length} class weights for ${c} classes`);
  if (!(eps >= 0 && eps <= 1))
    throw new Error(`cross-entropy: label smoothing must be in [0, 1], got ${eps}`);
  const y = Array.from(labels);
  const bad = y.find((l) => !Number.isInteger(l) || l < 0 || l >= c);
  if (bad !== undefined) throw new Error(`cross-entropy: label ${bad} is not a class index in [0, ${c})`);
  const norm = y.reduce((s, l) => s + w[l], 0);
  // PyTorch would return inf or NaN here.
  if (norm === 0 || !Number.isFinite(norm))
    throw new Error(`cross-entropy: the batch's label weights sum to ${norm}; the mean is undefined`);
  const k = new Float64Array(y.length * c);
  y.forEach((l, i) => {
    for (let j = 0; j < c; j++) k[i * c + j] = ((eps / c) * w[j]) / norm;
    k[i * c + l] += ((1 - eps) * w[l]) / norm;
  });
  return f32([y.length, c], k);
}
