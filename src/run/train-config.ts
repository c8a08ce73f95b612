import { z } from 'zod';
import { cropScaleOk, SEED_AUGMENT, type AugmentConfig } from '../data/augment.js';
import { DEFAULT_SPLIT_FRACTIONS } from '../data/stratified-split.js';
import { SCHEDULE_NAMES } from '../train/lr-schedule.js';
import { DEFAULT_THRESHOLD } from '../classify/classify.js';
import type { LoraConfig } from '../lora/config.js';
import { defaultTargets } from '../lora/default-targets.js';
import type { Backbone } from '../models/backbone.js';

const finite = () => z.number().finite();
const nonNegative = () => finite().min(0);
const count = (min: number, max: number) => z.number().int().min(min).max(max);

const augmentSchema = z.object({
  hflip: nonNegative().max(1),
  rotate: nonNegative().max(180),
  jitter: z.object({
    brightness: nonNegative(),
    contrast: nonNegative(),
    saturation: nonNegative(),
    hue: nonNegative().max(0.5),
  }),
  /** Added later: absent in older run folders and in every recipe without the crop. */
  cropScale: z
    .tuple([finite(), finite()])
    .refine(cropScaleOk, 'Must be min,max with 0 < min <= max <= 1')
    .optional(),
  /** Added later: absent in older run folders and in every recipe without it. */
  trivialAugment: z.boolean().optional(),
}) satisfies z.ZodType<AugmentConfig>;

/**
 * Every setting of a training run, as written to config.json: the schema is the one definition of the
 * fields, their types and their ranges, for the CLI's options and the run folder's reader alike.
 */
export const trainConfigSchema = z.object({
  data: z.string().min(1),
  out: z.string().min(1),
  backbone: z.string().min(1),
  weights: z.string().min(1).optional(),
  epochs: count(1, 100_000),
  batch: count(1, 4096),
  lr: nonNegative(),
  weightDecay: nonNegative(),
  optimizer: z.enum(['adamw', 'sgd']),
  momentum: nonNegative().max(1),
  rank: count(1, 4096),
  alpha: nonNegative(),
  /** Regex of Conv node names; default per backbone (see defaultTargets). */
  targets: z.string().min(1).optional(),
  schedule: z.enum(SCHEDULE_NAMES),
  warmupEpochs: nonNegative(),
  stepEpochs: count(1, 100_000),
  gamma: nonNegative().max(1),
  minLr: nonNegative(),
  /** Early-stopping patience in epochs (0: off). */
  patience: count(0, 100_000),
  labelSmoothing: nonNegative().max(1),
  classWeights: z.array(nonNegative()).min(2).optional(),
  clipNorm: nonNegative(),
  augment: augmentSchema,
  /** Test-time flip on validation and evaluation. */
  tta: z.boolean(),
  seed: count(0, 2 ** 32 - 1),
  threads: count(1, 256),
  onBadImage: z.enum(['skip', 'fail']),
  splitFractions: z.tuple([nonNegative(), nonNegative(), nonNegative()]),
  // Added after the first release, so older run folders read with the seed's values.
  /** Which epoch the run keeps: the best on validation or the last. */
  keep: z.enum(['best', 'last']).default('best'),
  /** Train on every labelled image (training and validation), with no validation: the final fit. */
  allLabelled: z.boolean().default(false),
  /** The input [height, width]; default: the backbone's. */
  imageSize: z.tuple([count(32, 1024), count(32, 1024)]).optional(),
  /** Decay of an exponential moving average of the trainables (0: off). */
  ema: z.number().min(0).lt(1).default(0),
  /** Stochastic weight averaging over the last this many epochs (0: off). */
  swaEpochs: count(0, 100_000).default(0),
  /** Head-only epochs before LoRA trains too (LP-FT; 0: off). */
  lpEpochs: count(0, 100_000).default(0),
  /** Mixup's Beta(α, α) concentration (0: off). */
  mixup: nonNegative().default(0),
  /** CutMix's Beta(α, α) concentration (0: off); with mixup too, each batch takes one. */
  cutmix: nonNegative().default(0),
  /** rsLoRA: scale the update by alpha/√r instead of alpha/r. */
  rslora: z.boolean().default(false),
  /** PEFT's rank_pattern: a rank by target-name regex (absent unless given, as dora). */
  rankPattern: z.record(z.string(), count(1, 100_000)).optional(),
  /** DoRA (PEFT's use_dora). Added later: absent unless given, so other recipes keep config.json and hash. */
  dora: z.boolean().optional(),
  /** Dropout on the features before the new head, in training only (absent unless given, as dora). */
  headDropout: z.number().min(0).lt(1).optional(),
  /** The run's decision threshold on P(positive class); every release wrote it, so it has no default. */
  threshold: z.number().min(0).max(1),
});

export type TrainConfig = z.infer<typeof trainConfigSchema>;

/** The adapters a run's settings ask for on this backbone (or a run folder's, whose targets are resolved). */
export function loraConfigFor(
  c: Pick<TrainConfig, 'rank' | 'rankPattern' | 'alpha' | 'rslora' | 'dora'> & {
    targets?: LoraConfig['targets'];
  },
  backbone: Backbone,
): LoraConfig {
  return {
    r: c.rank,
    ...(c.rankPattern && { rankPattern: c.rankPattern }),
    alpha: c.alpha,
    targets: c.targets ?? defaultTargets(backbone),
    rslora: c.rslora,
    ...(c.dora && { dora: true }),
  };
}

/** The seed project's recipe: the defaults of every `train` option. */
export const SEED_RECIPE = {
  backbone: 'resnet34',
  epochs: 15,
  batch: 32,
  lr: 1e-4,
  weightDecay: 1e-4,
  optimizer: 'adamw',
  momentum: 0.9,
  rank: 8,
  alpha: 16,
  schedule: 'constant',
  warmupEpochs: 0,
  stepEpochs: 5,
  gamma: 0.1,
  minLr: 0,
  patience: 0,
  labelSmoothing: 0,
  clipNorm: 0,
  augment: SEED_AUGMENT,
  tta: false,
  seed: 42,
  onBadImage: 'fail',
  splitFractions: DEFAULT_SPLIT_FRACTIONS,
  keep: 'best',
  allLabelled: false,
  ema: 0,
  swaEpochs: 0,
  lpEpochs: 0,
  mixup: 0,
  cutmix: 0,
  rslora: false,
  threshold: DEFAULT_THRESHOLD,
} satisfies Omit<TrainConfig, 'data' | 'out' | 'threads'>;
