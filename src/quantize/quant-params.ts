import type { Tensor } from '../graph/tensor.js';
import type { Range } from './calibrate.js';

/**
 * The scheme of ORT's own static quantizer for its CPU provider (U8S8): activations uint8, asymmetric,
 * one scale per tensor; weights int8, symmetric in [−127, 127], one scale per output channel; biases
 * int32 with scale input_scale × weight_scale and zero point 0, so the integer kernel adds them exactly.
 */
export interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

/** numpy's round (and ONNX QuantizeLinear's): ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** uint8 parameters for a calibrated range, widened to include 0 so that zero (padding, ReLU) is exact. */
export function activationParams(r: Range): ActivationParams {
  const lo = Math.min(r.min, 0);
  const hi = Math.max(r.max, 0);
  if (!Number.isFinite(lo) || !Number.isFinite(hi))
    throw new Error(`quantize: activation range [${r.min}, ${r.max}] is not finite`);
  if (hi === lo) return { scale: 1, zeroPoint: 0 };
  // As ORT's quantizer: the zero point from the float64 scale, the scale then stored as float32. Weights
  // and biases below are divided in float32 as numpy does there, so the integers match it exactly.
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(-lo / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

/** Per-output-channel (axis 0) symmetric int8 weights and their float32 scales. */
export function quantizeWeights(w: Tensor<'float32'>): { q: Tensor<'int8'>; scales: Float32Array } {
  const channels = w.shape[0];
  const per = w.data.length / channels;
  const q = new Int8Array(w.data.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const row = w.data.subarray(c * per, (c + 1) * per);
    let absMax = 0;
    for (const v of row) absMax = Math.max(absMax, Math.abs(v));
    const s = absMax > 0 ? Math.fround(absMax / 127) : 1;
    scales[c] = s;
    for (let i = 0; i < per; i++)
      q[c * per + i] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(row[i] / s))));
  }
  return { q: { dtype: 'int8', shape: [...w.shape], data: q }, scales };
}

const INT32_MAX = 2 ** 31 - 1;

/** int32 biases on the accumulator's scale (input scale × each channel's weight scale). */
export function quantizeBias(
  b: Tensor<'float32'>,
  inputScale: number,
  weightScales: Float32Array,
): { q: Tensor<'int32'>; scales: Float32Array } {
  const scales = weightScales.map((s) => Math.fround(inputScale * s));
  const q = new Int32Array(b.data.length);
  for (let c = 0; c < q.length; c++)
    q[c] = Math.max(-INT32_MAX, Math.min(INT32_MAX, roundHalfEven(Math.fround(b.data[c] / scales[c]))));
  return { q: { dtype: 'int32', shape: [...b.shape], data: q }, scales };
}
