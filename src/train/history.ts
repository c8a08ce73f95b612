/** One epoch of training, as written to history.json and history.csv. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  /** Null when the run has no validation images. */
  valLoss: number | null;
  valAcc: number | null;
  lr: number;
  seconds: number;
  /** Share of the epoch's training time spent waiting for data. */
  dataWait: number;
}

const COLUMNS: (keyof EpochRecord)[] = [
  'epoch',
  'trainLoss',
  'trainAcc',
  'valLoss',
  'valAcc',
  'lr',
  'seconds',
  'dataWait',
];

export function historyCsv(history: readonly EpochRecord[]): string {
  return [COLUMNS.join(','), ...history.map((h) => COLUMNS.map((c) => h[c]).join(','))].join('\n') + '\n';
}
