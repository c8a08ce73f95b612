/** A linear map from data values to pixels. */
export type Scale = (v: number) => number;

export function linearScale([d0, d1]: [number, number], [r0, r1]: [number, number]): Scale {
  const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

export interface Ticks {
  domain: [number, number];
  values: number[];
  step: number;
}

export interface TickOptions {
  /** Roughly how many intervals. */
  count?: number;
  /** Smallest step, e.g. 1 to keep an epoch axis on whole numbers. */
  minStep?: number;
  /** Widen the domain to whole steps so the axis starts and ends on a tick (default true). */
  extend?: boolean;
}

/**
 * Round tick values (steps of 1, 2 or 5 × 10^k) for [min, max]. A flat range is widened so a
 * single value still gets an axis around it.
 */
export function niceTicks(min: number, max: number, opts: TickOptions = {}): Ticks {
  const { count = 5, minStep = 0, extend = true } = opts;
  if (max - min < 1e-12) {
    const pad = minStep > 0 ? minStep / 2 : Math.max(Math.abs(min) * 0.1, 0.5);
    [min, max] = [min - pad, max + pad];
  }
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(minStep, ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag);
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const lo = extend ? Math.floor(min / step + 1e-9) : first;
  const hi = extend ? Math.ceil(max / step - 1e-9) : last;
  // Rounding to the step's decimals keeps 0.30000000000000004 out of the labels.
  const digits = Math.max(0, 1 - Math.floor(Math.log10(step)));
  const values = Array.from({ length: hi - lo + 1 }, (_, i) => Number(((lo + i) * step).toFixed(digits)));
  return { domain: extend ? [lo * step, hi * step] : [min, max], values, step };
}

/** Labels with just enough decimals for the step (0.05 → "0.25", 2 → "4"). */
export function tickLabel(v: number, step: number): string {
  return v.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}
