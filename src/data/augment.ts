import type { Rng } from '../random/rng.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from './color.js';
import { hflip, rotate } from './geometry.js';
import type { DecodedImage } from './image.js';

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

/** RandomHorizontalFlip: mirrors with probability p (one draw). */
export function randomHorizontalFlip(img: DecodedImage, p: number, rng: Rng): DecodedImage {
  return rng.next() < p ? hflip(img) : img;
}

/** RandomRotation: an angle uniform in [−degrees, degrees] (one draw), nearest, black fill. */
export function randomRotation(img: DecodedImage, degrees: number, rng: Rng): DecodedImage {
  return rotate(img, rng.uniform(-degrees, degrees));
}

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

/** Applies the drawn adjustments in their drawn order. */
export function applyJitter(img: DecodedImage, params: JitterParams): DecodedImage {
  const steps = [
    [params.brightness, adjustBrightness],
    [params.contrast, adjustContrast],
    [params.saturation, adjustSaturation],
    [params.hue, adjustHue],
  ] as const;
  return params.order.reduce((out, k) => {
    const [factor, adjust] = steps[k];
    return factor === undefined ? out : adjust(out, factor);
  }, img);
}

/** ColorJitter: random brightness, contrast, saturation and hue, in a random order. */
export function colorJitter(img: DecodedImage, cfg: JitterConfig, rng: Rng): DecodedImage {
  return applyJitter(img, sampleJitter(cfg, rng));
}

/**
 * The configured transforms in torchvision's order: flip → rotation → colour jitter. A transform that is
 * off draws nothing. The input is never modified.
 */
export class Augmenter {
  constructor(readonly config: AugmentConfig) {
    checkAugmentConfig(config);
  }

  apply(img: DecodedImage, rng: Rng): DecodedImage {
    const { hflip: p, rotate: degrees, jitter } = this.config;
    let out = img;
    if (p > 0) out = randomHorizontalFlip(out, p, rng);
    if (degrees > 0) out = randomRotation(out, degrees, rng);
    if (jitter.brightness > 0 || jitter.contrast > 0 || jitter.saturation > 0 || jitter.hue > 0) {
      out = colorJitter(out, jitter, rng);
    }
    return out;
  }
}

function checkAugmentConfig(c: AugmentConfig): void {
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
