/** Scores in [0, 1] with a fixed 4 decimals, so columns of them line up. */
export function formatScore(x: number): string {
  return x.toFixed(4);
}

/** A threshold as written by people: at most 4 significant digits, no trailing zeros (0.5, 0.3722). */
export function formatThreshold(t: number): string {
  return Number.isFinite(t) ? String(Number(t.toPrecision(4))) : String(t);
}
