import { toFloat32, type Tensor } from '../graph/tensor.js';

/** An eval-mode BatchNorm's four per-channel tensors, as in a torchvision state dict. */
export interface BatchNormParams {
  weight: Tensor;
  bias: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
}

/**
 * Folds an eval-mode BatchNorm into the bias-free conv before it:
 * W' = W·γ/√(var+ε) per output channel, b' = β − mean·γ/√(var+ε).
 * Computed in float64 so the only rounding is the final store to float32; any input float dtype is widened.
 * `scale` is γ/√(var+ε), which anything added to the conv's output ahead of the BatchNorm must be scaled by.
 */
export function foldBatchNorm(
  convWeight: Tensor,
  bn: BatchNormParams,
  eps = 1e-5,
): { weight: Tensor<'float32'>; bias: Tensor<'float32'>; scale: Float32Array } {
  const w = toFloat32(convWeight).data;
  const [gamma, beta, mean, variance] = [bn.weight, bn.bias, bn.runningMean, bn.runningVar].map(
    (t) => toFloat32(t).data,
  );
  const outC = convWeight.shape[0];
  const perChannel = w.length / outC;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(outC);
  const scales = new Float32Array(outC);
  for (let o = 0; o < outC; o++) {
    const scale = gamma[o] / Math.sqrt(variance[o] + eps);
    for (let i = o * perChannel; i < (o + 1) * perChannel; i++) weight[i] = w[i] * scale;
    bias[o] = beta[o] - mean[o] * scale;
    scales[o] = scale;
  }
  return {
    weight: { dtype: 'float32', shape: [...convWeight.shape], data: weight },
    bias: { dtype: 'float32', shape: [outC], data: bias },
    scale: scales,
  };
}
