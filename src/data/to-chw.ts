import type { Preprocess } from '../models/backbone.js';

/** Normalises an HWC RGB image to planar CHW float32: (pixel/255 − mean)/std per channel. */
export function toCHW(rgb: Uint8Array, size: [number, number], p: Preprocess): Float32Array {
  const plane = size[0] * size[1];
  if (rgb.length !== plane * 3) {
    throw new Error(`toCHW: ${rgb.length} bytes is not a ${size[0]}x${size[1]} RGB image`);
  }
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const [mean, std] = [p.mean[c], p.std[c]];
    for (let i = 0; i < plane; i++) out[c * plane + i] = (rgb[i * 3 + c] / 255 - mean) / std;
  }
  return out;
}
