import type { Rng } from '../random/rng.js';

/** TrivialAugmentWide's ops in torchvision 0.14's order (its _augmentation_space). */
export const TRIVIAL_OPS = [
  'Identity',
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
  'Posterize',
  'Solarize',
  'AutoContrast',
  'Equalize',
] as const;
export type TrivialOp = (typeof TRIVIAL_OPS)[number];

/** num_magnitude_bins, torchvision's default. */
export const TRIVIAL_BINS = 31;

/** One image's draws: the op's index in TRIVIAL_OPS, its magnitude bin (ops with magnitudes) and sign (signed ops). */
export interface TrivialDraw {
  op: number;
  bin?: number;
  negative?: boolean;
}

/**
 * torch.linspace(from, to, 31) in float32 as PyTorch 1.13's CPU kernel computes it with AVX2: step =
 * (to − from)/30 in float32; values 0-15 come from two 8-wide arange vectors, base + step·k on a base
 * start + step·i (fused multiply-add); values 16-30 are end − step·(30 − i), fused. (The recorded
 * fixture holds torch's own values.)
 */
function linspace31(from: number, to: number): number[] {
  const f = Math.fround;
  const [start, end] = [f(from), f(to)];
  const step = f((end - start) / 30);
  return Array.from({ length: TRIVIAL_BINS }, (_, i) => {
    if (i >= 16) return f(end - step * (30 - i));
    const base = f(start + step * (i - (i % 8)));
    return f(base + f(step * (i % 8)));
  });
}

const SIGNED = new Set<TrivialOp>([
  'ShearX',
  'ShearY',
  'TranslateX',
  'TranslateY',
  'Rotate',
  'Brightness',
  'Color',
  'Contrast',
  'Sharpness',
]);

/** _augmentation_space(31): each op's magnitudes (float32 values), empty for the three without. */
export const TRIVIAL_MAGNITUDES: Record<TrivialOp, readonly number[]> = (() => {
  const unit = linspace31(0, 0.99);
  return {
    Identity: [],
    ShearX: unit,
    ShearY: unit,
    TranslateX: linspace31(0, 32),
    TranslateY: linspace31(0, 32),
    Rotate: linspace31(0, 135),
    Brightness: unit,
    Color: unit,
    Contrast: unit,
    Sharpness: unit,
    // 8 − round(i / 5): i / 5 is never a half, so Math.round is torch.round here.
    Posterize: Array.from({ length: TRIVIAL_BINS }, (_, i) => 8 - Math.round(i / ((TRIVIAL_BINS - 1) / 6))),
    Solarize: linspace31(255, 0),
    AutoContrast: [],
    Equalize: [],
  };
})();

/** Whether an op takes a random sign. */
export const trivialSigned = (op: TrivialOp) => SIGNED.has(op);

/**
 * TrivialAugmentWide.forward's draws from `rng` as torchvision makes them: the op (torch.randint(14)),
 * then a bin (torch.randint(31)) if the op has magnitudes, then the sign (torch.randint(2), 1 negates) if
 * it is signed; each integer is rng.int(n).
 */
export function drawTrivial(rng: Rng): TrivialDraw {
  const op = rng.int(TRIVIAL_OPS.length);
  const name = TRIVIAL_OPS[op];
  if (TRIVIAL_MAGNITUDES[name].length === 0) return { op };
  const bin = rng.int(TRIVIAL_BINS);
  return trivialSigned(name) ? { op, bin, negative: rng.int(2) === 1 } : { op, bin };
}

/** The magnitude _apply_op gets: the bin's float32 value as a double, negated for a negative sign; 0 without. */
export function trivialMagnitude(d: TrivialDraw): number {
  const m = d.bin === undefined ? 0 : TRIVIAL_MAGNITUDES[TRIVIAL_OPS[d.op]][d.bin];
  return d.negative ? -m : m;
}
