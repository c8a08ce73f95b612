import type { Rng } from '../random/rng.js';

/** A crop box in pixels of the stored image: rows top..top+height−1, columns left..left+width−1. */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** RandomResizedCrop's aspect-ratio range (torchvision's default). */
export const CROP_RATIO: [number, number] = [3 / 4, 4 / 3];

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision's RandomResizedCrop.get_params for an image of `size` [H, W], drawn from `rng`: up to 10
 * tries of area = uniform(scale)·H·W and aspect = exp(uniform(log ratio)), w = round(√(area·aspect)),
 * h = round(√(area/aspect)) (Python's round), taken when 0 < w ≤ W and 0 < h ≤ H; then top =
 * torch.randint(0, H − h + 1), left = torch.randint(0, W − w + 1), i.e. rng.int(H − h + 1) and
 * rng.int(W − w + 1), whole numbers in [0, H − h] and [0, W − w]. Each try draws two uniforms (scale,
 * then log-ratio), rounded to float32 as torch's tensors hold them. After 10 misses, the central crop
 * of the image clamped to the ratio range, with no further draws.
 */
export function drawResizedCrop(
  [h0, w0]: readonly [number, number],
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): CropBox {
  const f = Math.fround;
  const [logLo, logHi] = ratio.map((r) => f(Math.log(f(r))));
  for (let i = 0; i < 10; i++) {
    const area = h0 * w0 * f(rng.uniform(scale[0], scale[1]));
    const aspect = f(Math.exp(f(rng.uniform(logLo, logHi))));
    const width = roundHalfEven(Math.sqrt(area * aspect));
    const height = roundHalfEven(Math.sqrt(area / aspect));
    if (width > 0 && width <= w0 && height > 0 && height <= h0)
      return { top: rng.int(h0 - height + 1), left: rng.int(w0 - width + 1), height, width };
  }
  const inRatio = w0 / h0;
  const [width, height] =
    inRatio < Math.min(...ratio)
      ? [w0, roundHalfEven(w0 / Math.min(...ratio))]
      : inRatio > Math.max(...ratio)
        ? [roundHalfEven(h0 * Math.max(...ratio)), h0]
        : [w0, h0];
  return { top: Math.floor((h0 - height) / 2), left: Math.floor((w0 - width) / 2), height, width };
}

/** One output axis of a bilinear resize: per output index, its two source indices and their weights. */
export interface AxisTaps {
  index: [number[], number[]];
  weight: [number[], number[]];
}

/**
 * The source indices and weights of resizing `from` pixels to `to` (offset by `start`) as PyTorch's CPU
 * upsample_bilinear2d computes them (align_corners=False): scale = from/to in float32; source = scale·(o
 * + ½) − ½ in double, clamped at 0; index0 = its integer part (at most from − 1), index1 = the next
 * (or the same at the edge); λ1 = source − index0 in float32, λ0 = 1 − λ1 in float32. (For from = to,
 * PyTorch copies; these taps give index o with weights 1 and 0, the same.)
 */
export function bilinearTaps(start: number, from: number, to: number): AxisTaps {
  const scale = Math.fround(from / to);
  const taps: AxisTaps = { index: [[], []], weight: [[], []] };
  for (let o = 0; o < to; o++) {
    const source = Math.max(scale * (o + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.trunc(source), from - 1);
    const lambda1 = Math.fround(Math.min(source - i0, 1));
    taps.index[0].push(start + i0);
    taps.index[1].push(start + i0 + (i0 < from - 1 ? 1 : 0));
    taps.weight[0].push(Math.fround(1 - lambda1));
    taps.weight[1].push(lambda1);
  }
  return taps;
}
