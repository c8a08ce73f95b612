/** ColorBrewer "Blues", light to dark: reads well in print and for colour-blind readers. */
const BLUES = ['#f7fbff', '#c6dbef', '#6baed6', '#2171b5', '#08306b'];

/** The colour at `t` ∈ [0, 1] along the Blues ramp, linearly between its stops. */
export function blues(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (BLUES.length - 1);
  const i = Math.min(Math.floor(x), BLUES.length - 2);
  const [a, b] = [rgb(BLUES[i]), rgb(BLUES[i + 1])];
  const mix = a.map((c, k) => Math.round(c + (b[k] - c) * (x - i)));
  return `#${mix.map((c) => c.toString(16).padStart(2, '0')).join('')}`;
}

/** Whether text on the ramp at `t` should be white rather than dark. */
export function needsLightText(t: number): boolean {
  return t > 0.55;
}

function rgb(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}
