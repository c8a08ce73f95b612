import { AdamW } from '../train/optim/adamw.js';
import type { Optimizer } from '../train/optim/optimizer.js';
import { SGD } from '../train/optim/sgd.js';
import type { TrainerSettings } from '../train/trainer.js';
import type { TrainConfig } from './train-config.js';

export function optimizerFor(c: TrainConfig): Optimizer {
  return c.optimizer === 'sgd'
    ? new SGD({ momentum: c.momentum, weightDecay: c.weightDecay })
    : new AdamW({ weightDecay: c.weightDecay });
}

/**
 * The trainer's settings for a recipe, one place for the CLI and the browser: the schedule per step,
 * averaging, LP-FT, mixing, early stopping, and what to keep (the last epoch when nothing validates).
 */
export function trainerSettings(
  c: TrainConfig,
  batchesPerEpoch: number,
  validated: boolean,
  configHash: string,
): TrainerSettings {
  return {
    epochs: c.epochs,
    schedule: {
      name: c.schedule,
      lr: c.lr,
      warmupEpochs: c.warmupEpochs,
      stepSize: c.stepEpochs * batchesPerEpoch,
      gamma: c.gamma,
      minLr: c.minLr,
    },
    clipNorm: c.clipNorm,
    patience: c.patience,
    tta: c.tta,
    configHash,
    keep: validated ? c.keep : 'last',
    ema: c.ema,
    swaEpochs: c.swaEpochs,
    lpEpochs: c.lpEpochs,
    mix: { mixup: c.mixup, cutmix: c.cutmix },
    seed: c.seed,
  };
}
