import { checkImages, type BadImagePolicy } from '../data/check-images.js';
import { BatchLoader } from '../data/loader.js';
import type { Sample } from '../data/sample.js';
import type { Preprocess } from '../models/backbone.js';
import { positiveProbabilities } from '../classify/classify.js';
import { predict, type LogitsFn } from '../train/predict.js';

export interface ScoredSamples {
  labels: Int32Array;
  /** Probability of the positive (last) class per sample. */
  probs: Float32Array;
  /** Every class's probability, [N, classes]. */
  classProbs: Float32Array;
  paths: string[];
  skipped: { path: string; reason: string }[];
}

/** Decodes samples (no augmentation), runs the model over them in batches, and keeps the probabilities. */
export async function scoreSamples(
  logitsOf: LogitsFn,
  samples: Sample[],
  o: {
    preprocess: Preprocess;
    numClasses: number;
    batch: number;
    tta: boolean;
    onBadImage: BadImagePolicy;
  },
): Promise<ScoredSamples> {
  const checked = await checkImages(samples, { onBadImage: o.onBadImage, size: o.preprocess.size });
  const loader = await BatchLoader.open({
    samples,
    checked,
    preprocess: o.preprocess,
    batchSize: o.batch,
  });
  try {
    const p = await predict(logitsOf, loader.epoch(0), o.numClasses, { tta: o.tta });
    return {
      labels: p.labels,
      probs: positiveProbabilities(p.probs, p.numClasses),
      classProbs: p.probs,
      paths: p.paths,
      skipped: checked.skipped,
    };
  } finally {
    await loader.close();
  }
}
