import { decodeResized, toCHW } from '../data/image.js';
import { f32 } from '../graph/tensor.js';
import { addSoftmax, flipBatch } from './predict.js';
import type { SavedModel } from './saved-model.js';

export interface FilePrediction {
  path: string;
  /** Absent when the file could not be read as an image (see `error`). */
  label?: string;
  /** Probability of the positive class. */
  probability?: number;
  /** Decode and inference time per image of its batch. */
  ms: number;
  error?: string;
}

/**
 * Labels image files in batches: the files of a batch decode concurrently and the model runs once per
 * batch, so 100 images cost four session calls at batch 32, not 100. A bad file gets an error row and
 * the others go on.
 */
export async function* predictFiles(
  model: SavedModel,
  paths: string[],
  o: { batch: number; threshold: number; tta: boolean },
): AsyncGenerator<FilePrediction> {
  const size = model.preprocess.size;
  const [h, w] = size;
  const per = 3 * h * w;
  const positive = model.classes.length - 1;
  for (let at = 0; at < paths.length; at += o.batch) {
    const t0 = performance.now();
    const chunk = paths.slice(at, at + o.batch);
    const decoded = await Promise.allSettled(chunk.map((p) => decodeResized(p, size)));
    const good = decoded.flatMap((d, i) => (d.status === 'fulfilled' ? [{ i, rgb: d.value.rgb }] : []));
    const probs = new Float32Array(chunk.length).fill(NaN);
    if (good.length > 0) {
      const input = f32([good.length, 3, h, w]);
      good.forEach((g, k) => input.data.set(toCHW(g.rgb, size, model.preprocess), k * per));
      const c = model.classes.length;
      const soft = new Float32Array(good.length * c);
      const views = o.tta ? [input, flipBatch(input)] : [input];
      for (const v of views) addSoftmax(await model.logits(v), c, soft, 1 / views.length);
      good.forEach((g, k) => (probs[g.i] = soft[k * c + positive]));
    }
    const ms = (performance.now() - t0) / chunk.length;
    for (let i = 0; i < chunk.length; i++) {
      const d = decoded[i];
      if (d.status === 'rejected')
        yield { path: chunk[i], ms, error: await exactReason(chunk[i], size, d.reason as Error) };
      else
        yield {
          path: chunk[i],
          label: model.classes[probs[i] >= o.threshold ? positive : 0],
          probability: probs[i],
          ms,
        };
    }
  }
}

/** libvips can garble the reason of one of several concurrent failed decodes; decoding alone gives it exactly. */
async function exactReason(path: string, size: [number, number], first: Error): Promise<string> {
  try {
    await decodeResized(path, size);
    return first.message;
  } catch (e) {
    return (e as Error).message;
  }
}
