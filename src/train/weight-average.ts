/**
 * Averages of the trainables that a run may keep instead of their last values, in float32 as the
 * trainables are:
 * - 'ema': an exponential moving average updated after every optimizer step,
 *   avg ← decay·avg + (1 − decay)·param, starting from the initial values (timm's ModelEma);
 * - 'swa': the running mean of the values at the end of each averaged epoch,
 *   avg ← avg + (param − avg)/(n + 1), as torch.optim.swa_utils.AveragedModel averages by default.
 */
export class WeightAverage {
  /** How many values the SWA mean holds (for EMA, the steps taken). */
  count: number;

  constructor(
    readonly kind: 'ema' | 'swa',
    readonly decay: number,
    /** The average, by trainable name. */
    readonly values: Map<string, Float32Array>,
    count = 0,
  ) {
    if (kind === 'ema' && !(decay > 0 && decay < 1))
      throw new Error(`weight average: EMA decay ${decay} must be in (0, 1)`);
    this.count = count;
  }

  static start(kind: 'ema' | 'swa', decay: number, params: ReadonlyMap<string, { data: Float32Array }>) {
    return new WeightAverage(kind, decay, new Map([...params].map(([n, t]) => [n, t.data.slice()])));
  }

  /** Folds the current values in: after each step for EMA, after each averaged epoch for SWA. */
  update(params: ReadonlyMap<string, { data: Float32Array }>): void {
    const f = Math.fround;
    const keep = f(this.decay);
    const take = f(1 - this.decay);
    for (const [name, avg] of this.values) {
      const p = params.get(name)!.data;
      if (this.kind === 'ema')
        for (let i = 0; i < avg.length; i++) avg[i] = f(f(keep * avg[i]) + f(take * p[i]));
      else for (let i = 0; i < avg.length; i++) avg[i] = f(avg[i] + f(p[i] - avg[i]) / (this.count + 1));
    }
    this.count++;
  }
}

/**
 * Runs `work` with `values` in place of the trainables (in place: compiled steps read them), then puts
 * the trainables back.
 */
export async function withValues<T>(
  params: ReadonlyMap<string, { data: Float32Array }>,
  values: ReadonlyMap<string, Float32Array>,
  work: () => Promise<T>,
): Promise<T> {
  const saved = new Map([...params].map(([n, t]) => [n, t.data.slice()]));
  for (const [n, v] of values) params.get(n)!.data.set(v);
  try {
    return await work();
  } finally {
    for (const [n, v] of saved) params.get(n)!.data.set(v);
  }
}
