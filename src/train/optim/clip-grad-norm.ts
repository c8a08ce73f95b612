import type { Param } from './optimizer.js';

/**
 * Clips gradients in place as torch.nn.utils.clip_grad_norm_: the norm is taken over all grads as if
 * concatenated into one vector, and if it exceeds `maxNorm` every grad is scaled by
 * maxNorm / (total + 1e-6). `normType` is any p > 0 or Infinity (max |g|). Returns the total norm
 * before clipping; the sum is accumulated in float64.
 *
 * A non-finite total (NaN or ±Infinity grads) is returned as is and the grads are left untouched, so the
 * caller decides, typically by skipping the step. PyTorch instead scales by the non-finite norm by
 * default, turning every grad into 0 or NaN, or throws with error_if_nonfinite=True.
 */
export function clipGradNorm(params: readonly Param[], maxNorm: number, normType = 2): number {
  if (!(normType > 0)) throw new RangeError(`clipGradNorm: normType must be > 0, got ${normType}`);
  const total = gradNorm(params, normType);
  if (!Number.isFinite(total)) return total;
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) {
    for (const { grad } of params) for (let i = 0; i < grad.length; i++) grad[i] *= coef;
  }
  return total;
}

function gradNorm(params: readonly Param[], normType: number): number {
  let acc = 0;
  if (normType === Infinity) {
    for (const { grad } of params)
      for (let i = 0; i < grad.length; i++) acc = Math.max(acc, Math.abs(grad[i]));
    return acc;
  }
  if (normType === 2) {
    for (const { grad } of params) for (let i = 0; i < grad.length; i++) acc += grad[i] * grad[i];
    return Math.sqrt(acc);
  }
  for (const { grad } of params) for (let i = 0; i < grad.length; i++) acc += Math.abs(grad[i]) ** normType;
  return acc ** (1 / normType);
}
