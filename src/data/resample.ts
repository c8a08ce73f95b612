/**
 * Source index pairs and weights for bilinear resampling along one axis, half-pixel centred
 * (align_corners=False, as OpenCV's and PyTorch's bilinear resize), edges clamped.
 */
export function bilinearTaps(from: number, to: number): { lo: Int32Array; hi: Int32Array; t: Float32Array } {
  const lo = new Int32Array(to);
  const hi = new Int32Array(to);
  const t = new Float32Array(to);
  const scale = from / to;
  for (let i = 0; i < to; i++) {
    const s = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), from - 1);
    lo[i] = Math.floor(s);
    hi[i] = Math.min(lo[i] + 1, from - 1);
    t[i] = s - lo[i];
  }
  return { lo, hi, t };
}

/** Bilinear resize of a single-channel [h*w] map to `to` = [height, width]. */
export function upsampleBilinear(
  src: Float32Array,
  from: [number, number],
  to: [number, number],
): Float32Array {
  const [sh, sw] = from;
  if (src.length !== sh * sw) throw new Error(`upsample: ${src.length} values is not ${sh}x${sw}`);
  const [dh, dw] = to;
  const ys = bilinearTaps(sh, dh);
  const xs = bilinearTaps(sw, dw);
  const out = new Float32Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    const r0 = ys.lo[y] * sw;
    const r1 = ys.hi[y] * sw;
    const ty = ys.t[y];
    for (let x = 0; x < dw; x++) {
      const [x0, x1, tx] = [xs.lo[x], xs.hi[x], xs.t[x]];
      const top = src[r0 + x0] + (src[r0 + x1] - src[r0 + x0]) * tx;
      const bottom = src[r1 + x0] + (src[r1 + x1] - src[r1 + x0]) * tx;
      out[y * dw + x] = top + (bottom - top) * ty;
    }
  }
  return out;
}
