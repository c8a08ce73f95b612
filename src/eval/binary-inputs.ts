/**
 * Checks the inputs every binary metric takes: one 0/1 label and one positive-class probability
 * per sample. Fails loudly, since a NaN probability or a label of 2 would otherwise turn into a
 * plausible-looking but wrong number.
 */
export function checkBinaryInputs(labels: ArrayLike<number>, probs: ArrayLike<number>): void {
  if (labels.length !== probs.length)
    throw new Error(`metrics: ${labels.length} labels but ${probs.length} probabilities`);
  if (labels.length === 0) throw new Error('metrics: no samples');
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1)
      throw new Error(`metrics: label ${labels[i]} at index ${i} is not 0 or 1`);
    const p = probs[i];
    if (!(p >= 0 && p <= 1)) throw new Error(`metrics: probability ${p} at index ${i} is not in [0, 1]`);
  }
}

/** Number of positive (label 1) samples. */
export function countPositives(labels: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < labels.length; i++) n += labels[i];
  return n;
}
