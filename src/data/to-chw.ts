import type { Preprocess } from '../models/backbone.js';

/**
 * ToTensor then Normalize in float32, as torchvision (and the augmentation kernel, augment-kernel.as.ts)
 * computes them: entry 256c + v is ((v/255) − mean_c)/std_c.
 */
function normalisationTable(p: Preprocess): Float32Array {
  const f = Math.fround;
  return Float32Array.from({ length: 768 }, (_, i) =>
    f(f(f((i % 256) / 255) - f(p.mean[i >> 8])) / f(p.std[i >> 8])),
  );
}

/** Normalises an HWC RGB image to planar CHW float32: (pixel/255 − mean)/std per channel, in float32. */
export function toCHW(rgb: Uint8Array, size: [number, number], p: Preprocess): Float32Array {
  const plane = size[0] * size[1];
  if (rgb.length !== plane * 3) {
    throw new Error(`toCHW: ${rgb.length} bytes is not a ${size[0]}x${size[1]} RGB image`);
  }
  const table = normalisationTable(p);
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < plane; i++) out[c * plane + i] = table[256 * c + rgb[i * 3 + c]];
  return out;
}
