/**
 * The classifier convention, defined once for every caller: training accuracy, validation, evaluate,
 * predict, Grad-CAM, the server and the web page (which imports this compiled file as the server serves
 * it, so it has no runtime imports).
 *
 * - Probabilities are the softmax of the logits. With test-time flip they are the mean of the softmax of
 *   the image and of its mirror image, both run in one batch: [x; mirror(x)].
 * - A two-class model says the positive class, the last one, when its probability is ≥ the threshold;
 *   a model of more classes says its most probable class (the threshold does not apply).
 */

/** The threshold a run starts with: the positive class when it is the more probable of two. */
export const DEFAULT_THRESHOLD = 0.5;

/** How many images one input stands for in the batch: 1, or 2 with test-time flip. */
export function viewCount(tta: boolean): number {
  return tta ? 2 : 1;
}

/**
 * The batch the model runs for planar [N,3,H,W] images: the images themselves, or with test-time flip
 * the images followed by their mirror images, [2N,3,H,W].
 */
export function withViews(images: Float32Array, width: number, tta: boolean): Float32Array {
  if (!tta) return images;
  const out = new Float32Array(2 * images.length);
  out.set(images);
  mirrorInto(images, width, out, images.length);
  return out;
}

/** Mirrors every row of width `width` left to right, writing at `offset` of `out`. */
export function mirrorInto(src: Float32Array, width: number, out: Float32Array, offset = 0): void {
  for (let row = 0; row < src.length; row += width)
    for (let x = 0; x < width; x++) out[offset + row + x] = src[row + width - 1 - x];
}

/**
 * Class probabilities [N, classes] from the logits of the batch `withViews` made ([views·N, classes]):
 * the softmax of each row, averaged over an image's views.
 */
export function probabilities(logits: ArrayLike<number>, classes: number, tta: boolean): Float32Array {
  const views = viewCount(tta);
  const n = logits.length / classes / views;
  if (!Number.isInteger(n))
    throw new Error(`classify: ${logits.length} logits are not ${views} view(s) of rows of ${classes}`);
  const out = new Float32Array(n * classes);
  const exps = new Float64Array(classes);
  for (let v = 0; v < views; v++)
    for (let i = 0; i < n; i++) {
      const at = (v * n + i) * classes;
      let max = -Infinity;
      for (let k = 0; k < classes; k++) max = Math.max(max, logits[at + k]);
      let sum = 0;
      for (let k = 0; k < classes; k++) sum += exps[k] = Math.exp(logits[at + k] - max);
      for (let k = 0; k < classes; k++) out[i * classes + k] += exps[k] / sum / views;
    }
  return out;
}

/** The positive (last) class's probability of each image. */
export function positiveProbabilities(probs: Float32Array, classes: number): Float32Array {
  return Float32Array.from({ length: probs.length / classes }, (_, i) => probs[(i + 1) * classes - 1]);
}

/** The class index the model says for image `i` of `probs` [N, classes]. */
export function decide(probs: ArrayLike<number>, classes: number, i: number, threshold: number): number {
  const at = i * classes;
  if (classes === 2) return probs[at + 1] >= threshold ? 1 : 0;
  let best = 0;
  for (let k = 1; k < classes; k++) if (probs[at + k] > probs[at + best]) best = k;
  return best;
}

/** Refuses an option that only a two-class model has (a threshold on P(positive)) for a model of more. */
export function requireTwoClassesFor(option: string, classes: readonly string[]): void {
  if (classes.length !== 2)
    throw new Error(
      `${option}: applies to two-class models only; this one has ${classes.length} classes (${classes.join(', ')}) and says the most probable one`,
    );
}
