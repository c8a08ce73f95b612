import type { Rng } from '../random/rng.js';

/** Batch mixing: the Beta(α, α) concentration of each kind (0: off); with both, each batch picks one. */
export interface MixConfig {
  mixup: number;
  cutmix: number;
}

export interface MixedBatch {
  input: Float32Array;
  /** Image i is `lambda` of itself and 1 − `lambda` of image partner[i]. */
  partner: Int32Array;
  lambda: number;
}

/**
 * torchvision.transforms.v2's MixUp and CutMix on a normalised batch [N,3,H,W]: each image's partner is
 * the one before it (the batch rolled by one), λ ~ Beta(α, α); CutMix pastes the partner's box of
 * relative side √(1 − λ) at a uniform centre, clipped to the image, and λ becomes the share of the
 * image left. With both kinds on, each batch takes one with probability ½ (RandomChoice). The draws
 * come from `rng`: a generator per batch keeps them the same on resume.
 */
export function mixBatch(
  input: Float32Array,
  [n, , h, w]: readonly number[],
  cfg: MixConfig,
  rng: Rng,
): MixedBatch {
  const kinds = [cfg.mixup > 0 && 'mixup', cfg.cutmix > 0 && 'cutmix'].filter(Boolean) as (
    'mixup' | 'cutmix'
  )[];
  if (kinds.length === 0) throw new Error('mix: neither mixup nor cutmix is on');
  const kind = kinds.length === 2 ? kinds[rng.int(2)] : kinds[0];
  const alpha = kind === 'mixup' ? cfg.mixup : cfg.cutmix;
  const lambda0 = rng.beta(alpha, alpha);
  const partner = Int32Array.from({ length: n }, (_, i) => (i + n - 1) % n);
  const per = input.length / n;
  const out = new Float32Array(input.length);
  if (kind === 'mixup') {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < per; j++)
        out[i * per + j] = lambda0 * input[i * per + j] + (1 - lambda0) * input[partner[i] * per + j];
    return { input: out, partner, lambda: lambda0 };
  }
  const { x0, x1, y0, y1, lambda } = cutmixBox(lambda0, rng.int(w), rng.int(h), h, w);
  out.set(input);
  const plane = h * w;
  for (let i = 0; i < n; i++)
    for (let c = 0; c < per / plane; c++)
      for (let y = y0; y < y1; y++) {
        const row = i * per + c * plane + y * w;
        const from = partner[i] * per + c * plane + y * w;
        out.set(input.subarray(from + x0, from + x1), row + x0);
      }
  return { input: out, partner, lambda };
}

/** CutMix's box around centre (cx, cy) for a drawn λ, clipped to the image, and the λ it leaves. */
export function cutmixBox(lambda: number, cx: number, cy: number, h: number, w: number) {
  const r = 0.5 * Math.sqrt(1 - lambda);
  const [rw, rh] = [Math.trunc(r * w), Math.trunc(r * h)];
  const [x0, x1] = [Math.max(cx - rw, 0), Math.min(cx + rw, w)];
  const [y0, y1] = [Math.max(cy - rh, 0), Math.min(cy + rh, h)];
  return { x0, x1, y0, y1, lambda: 1 - ((x1 - x0) * (y1 - y0)) / (h * w) };
}
