import { decide, positiveProbabilities, probabilities, withViews } from '../classify/classify.js';
import { decodeResized } from '../data/image.js';
import { toCHW } from '../data/to-chw.js';
import { packBatch } from '../data/pack-batch.js';
import type { Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';

export interface FilePrediction {
  path: string;
  /** Absent when the file could not be read as an image (see `error`). */
  label?: string;
  /** Probability of the positive class with two classes; of the said class (`label`) with more. */
  probability?: number;
  /** With more than two classes, every class's probability by name. */
  probabilities?: Record<string, number>;
  /** Decode and inference time per image of its batch. */
  ms: number;
  error?: string;
}

/** A model that labels images: a run's SavedModel, say. */
export interface ImageClassifier {
  classes: string[];
  preprocess: Preprocess;
  logits(input: Tensor<'float32'>): Promise<Float32Array>;
}

/**
 * Labels image files in batches: the files of a batch decode concurrently and the model runs once per
 * batch, so 100 images cost four session calls at batch 32, not 100. A bad file gets an error row and
 * the others go on.
 */
export async function* predictFiles(
  model: ImageClassifier,
  paths: string[],
  o: { batch: number; threshold: number; tta: boolean },
): AsyncGenerator<FilePrediction> {
  const size = model.preprocess.size;
  const k = model.classes.length;
  for (let at = 0; at < paths.length; at += o.batch) {
    const t0 = performance.now();
    const chunk = paths.slice(at, at + o.batch);
    const decoded = await Promise.allSettled(chunk.map((p) => decodeResized(p, size)));
    const good = decoded.flatMap((d, i) => (d.status === 'fulfilled' ? [{ i, rgb: d.value.rgb }] : []));
    const slot = new Map(good.map((g, j) => [g.i, j]));
    let probs: Float32Array = new Float32Array(0);
    if (good.length > 0) {
      const input = packBatch(
        good.map((g) => toCHW(g.rgb, size, model.preprocess)),
        size,
      );
      const views = packBatch([withViews(input.data, size[1], o.tta)], size);
      probs = probabilities(await model.logits(views), k, o.tta);
    }
    const positive = positiveProbabilities(probs, k);
    const ms = (performance.now() - t0) / chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const d = decoded[i];
      const j = slot.get(i);
      if (d.status === 'rejected' || j === undefined)
        yield { path: chunk[i], ms, error: (d as PromiseRejectedResult).reason.message };
      else {
        const said = decide(probs, k, j, o.threshold);
        yield k === 2
          ? { path: chunk[i], label: model.classes[said], probability: positive[j], ms }
          : {
              path: chunk[i],
              label: model.classes[said],
              probability: probs[j * k + said],
              probabilities: Object.fromEntries(model.classes.map((c, m) => [c, probs[j * k + m]])),
              ms,
            };
      }
    }
  }
}
