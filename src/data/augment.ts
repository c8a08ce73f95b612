import type { Rng } from '../random/rng.js';

/** ColorJitter strengths: factors are drawn from [max(0, 1 − x), 1 + x], the hue shift from [−hue, hue]. */
export interface JitterConfig {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

/** Training augmentation; a zero turns a transform off. */
export interface AugmentConfig {
  /** RandomHorizontalFlip probability. */
  hflip: number;
  /** RandomRotation range ±degrees. */
  rotate: number;
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

/** One image's draws: RandomHorizontalFlip, RandomRotation, ColorJitter (absent when it is off). */
export interface AugmentDraw {
  flip: boolean;
  /** Counter-clockwise, as displayed. */
  degrees: number;
  jitter?: JitterParams;
}

/** The adjustments ColorJitter applies: a strength above zero turns one on. */
export function jitterOn(c: JitterConfig): boolean {
  return c.brightness > 0 || c.contrast > 0 || c.saturation > 0 || c.hue > 0;
}

/**
 * The draws of torchvision's transforms in their order, flip → rotation → colour jitter, each from
 * `rng` as torchvision draws them: one uniform for the flip (flipped when below p), one for the angle,
 * then ColorJitter.get_params. A transform that is off draws nothing.
 */
export function drawAugment(c: AugmentConfig, rng: Rng): AugmentDraw {
  const flip = c.hflip > 0 && rng.next() < c.hflip;
  const degrees = c.rotate > 0 ? rng.uniform(-c.rotate, c.rotate) : 0;
  return { flip, degrees, jitter: jitterOn(c.jitter) ? sampleJitter(c.jitter, rng) : undefined };
}

export function checkAugmentConfig(c: AugmentConfig): void {
  const { brightness, contrast, saturation, hue } = c.jitter;
  const problems = [
    !(c.hflip >= 0 && c.hflip <= 1) && `hflip ${c.hflip} must be a probability in [0, 1]`,
    !(c.rotate >= 0 && c.rotate <= 180) && `rotate ${c.rotate} must be degrees in [0, 180]`,
    ![brightness, contrast, saturation].every((x) => x >= 0 && Number.isFinite(x)) &&
      `jitter brightness/contrast/saturation (${brightness}, ${contrast}, ${saturation}) must be ≥ 0`,
    !(hue >= 0 && hue <= 0.5) && `jitter hue ${hue} must be in [0, 0.5]`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`augmentation: ${problems.join('; ')}`);
}
