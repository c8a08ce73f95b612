import type { Rng } from '../random/rng.js';
import { CROP_RATIO, type CropBox, drawResizedCrop } from './resized-crop.js';
import { drawTrivial, type TrivialDraw } from './trivial-augment.js';

/** ColorJitter strengths: factors are drawn from [max(0, 1 − x), 1 + x], the hue shift from [−hue, hue]. */
export interface JitterConfig {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** Training augmentation; a zero turns a transform off. */
export interface AugmentConfig {
  /**
   * RandomResizedCrop(scale=cropScale, ratio=(3/4, 4/3)) of the stored image (already at the input
   * size), resized back to that size with BILINEAR interpolation: [min, max] fractions of its area.
   * Absent: no crop, and no draws for it.
   */
  cropScale?: [number, number];
  /** RandomHorizontalFlip probability. */
  hflip: number;
  /** RandomRotation range ±degrees. */
  rotate: number;
  /**
   * TrivialAugmentWide (torchvision 0.14: 31 bins, NEAREST, fill 0) after the rotation, before the
   * jitter. Absent unless on: no draws for it.
   */
  trivialAugment?: boolean;
  jitter: JitterConfig;
}

/** The seed recipe: RandomHorizontalFlip(0.5), RandomRotation(10), ColorJitter(0.2, 0.2, 0.2, 0.1). */
export const SEED_AUGMENT: AugmentConfig = {
  hflip: 0.5,
  rotate: 10,
  jitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.1 },
};

/** ColorJitter's draws: the order of the four adjustments, and a factor for each one switched on. */
export interface JitterParams {
  /** A permutation of 0 brightness, 1 contrast, 2 saturation, 3 hue (torch.randperm(4)). */
  order: number[];
  brightness?: number;
  contrast?: number;
  saturation?: number;
  hue?: number;
}

/** ColorJitter.get_params: the permutation first, then brightness, contrast, saturation, hue. */
export function sampleJitter(cfg: JitterConfig, rng: Rng): JitterParams {
  const order = rng.shuffle([0, 1, 2, 3]);
  const factor = (x: number) => (x > 0 ? rng.uniform(Math.max(0, 1 - x), 1 + x) : undefined);
  return {
    order,
    brightness: factor(cfg.brightness),
    contrast: factor(cfg.contrast),
    saturation: factor(cfg.saturation),
    hue: cfg.hue > 0 ? rng.uniform(-cfg.hue, cfg.hue) : undefined,
  };
}

/**
 * One image's draws: RandomResizedCrop, RandomHorizontalFlip, RandomRotation, TrivialAugmentWide,
 * ColorJitter (absent when off).
 */
export interface AugmentDraw {
  crop?: CropBox;
  flip: boolean;
  /** Counter-clockwise, as displayed. */
  degrees: number;
  trivial?: TrivialDraw;
  jitter?: JitterParams;
}

/** The adjustments ColorJitter applies: a strength above zero turns one on. */
export function jitterOn(c: JitterConfig): boolean {
  return c.brightness > 0 || c.contrast > 0 || c.saturation > 0 || c.hue > 0;
}

/**
 * The draws of torchvision's transforms in Compose's order, crop → flip → rotation → TrivialAugment →
 * colour jitter, each from `rng` as torchvision draws them: RandomResizedCrop.get_params for an image of
 * `size` [H, W] (two uniforms a try, up to 10 tries, then two integers; see drawResizedCrop), one uniform
 * for the flip (flipped when below p), one for the angle, TrivialAugmentWide's op, bin and sign (see
 * drawTrivial), then ColorJitter.get_params. A transform that is off draws nothing (and the crop and
 * TrivialAugment leave no key), so without them the draws are exactly those from before they existed;
 * `size` is needed only with the crop.
 */
export function drawAugment(c: AugmentConfig, rng: Rng, size?: readonly [number, number]): AugmentDraw {
  if (c.cropScale && !size) throw new Error('drawAugment: the crop needs the image size [H, W]');
  const crop = c.cropScale && { crop: drawResizedCrop(size!, c.cropScale, CROP_RATIO, rng) };
  const flip = c.hflip > 0 && rng.next() < c.hflip;
  const degrees = c.rotate > 0 ? rng.uniform(-c.rotate, c.rotate) : 0;
  const trivial = c.trivialAugment && { trivial: drawTrivial(rng) };
  return {
    ...crop,
    flip,
    degrees,
    ...trivial,
    jitter: jitterOn(c.jitter) ? sampleJitter(c.jitter, rng) : undefined,
  };
}

/** RandomResizedCrop's scale range: two area fractions, 0 < min <= max <= 1. */
export function cropScaleOk(scale: readonly number[]): boolean {
  return scale.length === 2 && scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1;
}

export function checkAugmentConfig(c: AugmentConfig): void {
  const { brightness, contrast, saturation, hue } = c.jitter;
  const problems = [
    c.cropScale &&
      !cropScaleOk(c.cropScale) &&
      `crop scale ${c.cropScale.join(',')} must be min,max with 0 < min <= max <= 1`,
    !(c.hflip >= 0 && c.hflip <= 1) && `hflip ${c.hflip} must be a probability in [0, 1]`,
    !(c.rotate >= 0 && c.rotate <= 180) && `rotate ${c.rotate} must be degrees in [0, 180]`,
    ![brightness, contrast, saturation].every((x) => x >= 0 && Number.isFinite(x)) &&
      `jitter brightness/contrast/saturation (${brightness}, ${contrast}, ${saturation}) must be ≥ 0`,
    !(hue >= 0 && hue <= 0.5) && `jitter hue ${hue} must be in [0, 0.5]`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`augmentation: ${problems.join('; ')}`);
}
