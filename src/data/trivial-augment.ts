import type { Rng } from '../random/rng.js';

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

/**
 * _augmentation_space(31), once: in torchvision 0.14's order, each op's magnitudes (float32 values,
 * empty for the three without) and whether it takes a random sign.
 */
const SPACE = (() => {
  const unit = linspace31(0, 0.99);
  const signed = (magnitudes: readonly number[]) => ({ magnitudes, signed: true });
  const unsigned = (magnitudes: readonly number[] = []) => ({ magnitudes, signed: false });
  return {
    Identity: unsigned(),
    ShearX: signed(unit),
    ShearY: signed(unit),
    TranslateX: signed(linspace31(0, 32)),
    TranslateY: signed(linspace31(0, 32)),
    Rotate: signed(linspace31(0, 135)),
    Brightness: signed(unit),
    Color: signed(unit),
    Contrast: signed(unit),
    Sharpness: signed(unit),
    // 8 − round(i / 5): i / 5 is never a half, so Math.round is torch.round here.
    Posterize: unsigned(
      Array.from({ length: TRIVIAL_BINS }, (_, i) => 8 - Math.round(i / ((TRIVIAL_BINS - 1) / 6))),
    ),
    Solarize: unsigned(linspace31(255, 0)),
    AutoContrast: unsigned(),
    Equalize: unsigned(),
  };
})();
export type TrivialOp = keyof typeof SPACE;

/** TrivialAugmentWide's ops in torchvision 0.14's order. */
export const TRIVIAL_OPS = Object.keys(SPACE) as readonly TrivialOp[];

/** Each op's magnitudes. */
export const TRIVIAL_MAGNITUDES = Object.fromEntries(
  TRIVIAL_OPS.map((op) => [op, SPACE[op].magnitudes]),
) as Record<TrivialOp, readonly number[]>;

/** Whether an op takes a random sign. */
export const trivialSigned = (op: TrivialOp) => SPACE[op].signed;

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
