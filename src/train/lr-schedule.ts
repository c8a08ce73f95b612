/** Learning-rate schedules, evaluated per optimizer step so that resuming mid-epoch gives the same rates. */
export const SCHEDULE_NAMES = ['constant', 'cosine', 'step', 'linear'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleConfig {
  name: ScheduleName;
  /** Peak learning rate. */
  lr: number;
  /** Linear warmup from 0 over this many steps (any schedule). */
  warmupSteps: number;
  totalSteps: number;
  /** For 'step': multiply by `gamma` every `stepSize` steps. */
  stepSize?: number;
  gamma?: number;
  /** Floor for 'cosine' and 'linear' decay. */
  minLr?: number;
}

export function learningRate(c: ScheduleConfig, step: number): number {
  if (step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  const t = step - c.warmupSteps;
  const span = Math.max(1, c.totalSteps - c.warmupSteps);
  const floor = c.minLr ?? 0;
  switch (c.name) {
    case 'constant':
      return c.lr;
    case 'cosine':
      return floor + ((c.lr - floor) * (1 + Math.cos((Math.PI * Math.min(t, span)) / span))) / 2;
    case 'linear':
      return floor + (c.lr - floor) * Math.max(0, 1 - t / span);
    case 'step':
      return c.lr * (c.gamma ?? 0.1) ** Math.floor(t / Math.max(1, c.stepSize ?? span));
  }
}
