/**
 * One image's Grad-CAM at the activation's resolution: ReLU(sum_c w_c A_c) with w_c the spatial mean of
 * dlogit/dA_c, divided by its maximum so it lies in [0,1]. A map with no positive value stays all zero
 * rather than being stretched out of noise.
 */
export function camFromGradients(
  activation: Float32Array,
  gradient: Float32Array,
  [c, h, w]: [number, number, number],
): Float32Array {
  const plane = h * w;
  if (activation.length !== c * plane || gradient.length !== c * plane)
    throw new Error(`grad-cam: expected ${c}x${h}x${w} activation and gradient`);
  const cam = new Float64Array(plane);
  for (let k = 0; k < c; k++) {
    let weight = 0;
    for (let i = 0; i < plane; i++) weight += gradient[k * plane + i];
    weight /= plane;
    if (weight === 0) continue;
    for (let i = 0; i < plane; i++) cam[i] += weight * activation[k * plane + i];
  }
  let max = 0;
  for (const v of cam) if (v > max) max = v;
  const out = new Float32Array(plane);
  if (!(max > 0) || !Number.isFinite(max)) return out;
  for (let i = 0; i < plane; i++) out[i] = Math.max(0, cam[i]) / max;
  return out;
}
