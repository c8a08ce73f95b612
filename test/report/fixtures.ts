import { computeMetrics } from '../../src/eval/metrics.js';
import type { EpochRecord } from '../../src/train/history.js';

/** The hand-worked example of test/eval: confusion [[3, 1], [2, 4]], AUC 19/24. */
export const METRICS = computeMetrics(
  [0, 0, 0, 0, 1, 1, 1, 1, 1, 1],
  [0.1, 0.4, 0.6, 0.3, 0.9, 0.8, 0.55, 0.45, 0.7, 0.2],
  { classes: ['notsmoking', 'smoking'], split: 'test' },
);

export const HISTORY: EpochRecord[] = [
  {
    epoch: 1,
    trainLoss: 0.69,
    trainAcc: 0.55,
    valLoss: 0.66,
    valAcc: 0.6,
    lr: 1e-3,
    seconds: 40.5,
    dataWait: 0.02,
  },
  {
    epoch: 2,
    trainLoss: 0.45,
    trainAcc: 0.8,
    valLoss: 0.5,
    valAcc: 0.76,
    lr: 1e-3,
    seconds: 39.8,
    dataWait: 0.02,
  },
  {
    epoch: 3,
    trainLoss: 0.3,
    trainAcc: 0.88,
    valLoss: 0.41,
    valAcc: 0.83,
    lr: 5e-4,
    seconds: 40.1,
    dataWait: 0.02,
  },
  {
    epoch: 4,
    trainLoss: 0.22,
    trainAcc: 0.92,
    valLoss: 0.43,
    valAcc: 0.84,
    lr: 2.5e-4,
    seconds: 40.0,
    dataWait: 0.02,
  },
];
