import { statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { BadImagePolicy } from '../data/check-images.js';
import { datasetFromFolder, discoverDataset } from '../data/dataset.js';
import { listFolder } from '../data/image-files.js';
import { unwrapDoubled } from '../data/labelled-folder.js';
import type { Sample } from '../data/sample.js';
import { findSplitFolders, type SplitName } from '../data/split-folders.js';
import { requireTwoClassesFor } from '../classify/classify.js';
import { modelMetrics, type ModelMetrics } from '../eval/model-metrics.js';
import { scoreSamples } from '../eval/score-samples.js';
import { thresholdForRecall } from '../eval/threshold.js';
import { writeReport } from '../report/report-md.js';
import type { RunInfo } from '../run/run-info.js';
import { SavedModel } from '../run/saved-model.js';

export interface EvaluateOptions {
  model: string;
  data: string;
  /** Which split when `data` holds split folders (default: test if present, else val). */
  split?: SplitName;
  threshold?: number;
  /** Tune the threshold on the run's validation split to reach this recall of the positive class. */
  targetRecall?: number;
  out?: string;
  batch: number;
  threads: number;
  onBadImage: BadImagePolicy;
  tta?: boolean;
}

/**
 * The folder to evaluate on, checked before the model loads. Kaggle's doubled folder (Testing/Testing)
 * is unwrapped: given as `Testing`, it is one folder of images to evaluate whole, not a data set root
 * whose inner `Testing` is a split (which would then be split again and evaluated in part).
 */
function dataFolder(path: string): string {
  const dir = resolve(path);
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new Error(`--data ${path}: no such folder; pass a data set root or a folder of labelled images`);
  return unwrapDoubled(dir, listFolder);
}

/** Picks the images to evaluate: one split of a data set root, or every labelled image of a folder. */
function samplesOf(o: EvaluateOptions, classes: string[], seed: number): { name: string; samples: Sample[] } {
  if (findSplitFolders(o.data, listFolder).length === 0) {
    return { name: basename(o.data), samples: datasetFromFolder(o.data, { classes }).samples };
  }
  const ds = discoverDataset(o.data, { seed });
  const split = o.split ?? (ds.splits.test.length > 0 ? 'test' : 'val');
  if (ds.splits[split].length === 0)
    throw new Error(`--data ${o.data}: the ${split} split is empty; pass --split or the folder itself`);
  return { name: split, samples: ds.splits[split] };
}

/** The run's own validation split, rebuilt as the training job made it (same seed and split fractions). */
export function runValidationSplit(info: RunInfo): Sample[] {
  return discoverDataset(info.data, { seed: info.seed, splitFractions: info.splitFractions }).splits.val;
}

/** Evaluates a run folder's model on a split or folder; writes metrics.json and report.md with plots. */
export async function runEvaluateJob(
  o: EvaluateOptions,
  log: (line: string) => void,
): Promise<{ metrics: ModelMetrics; out: string }> {
  o = { ...o, data: dataFolder(o.data) };
  const model = await SavedModel.load(o.model, { threads: o.threads });
  try {
    if (o.threshold !== undefined) requireTwoClassesFor('--threshold', model.classes);
    if (o.targetRecall !== undefined) requireTwoClassesFor('--target-recall', model.classes);
    const seed = model.info.seed;
    const tta = o.tta ?? model.info.tta;
    const score = (samples: Sample[]) =>
      scoreSamples((x) => model.logits(x), samples, {
        preprocess: model.preprocess,
        numClasses: model.classes.length,
        batch: o.batch,
        tta,
        onBadImage: o.onBadImage,
      });
    let threshold = o.threshold ?? model.info.threshold;
    if (o.targetRecall !== undefined) {
      const val = runValidationSplit(model.info);
      const s = await score(val);
      threshold = thresholdForRecall(s.labels, s.probs, o.targetRecall);
      log(
        `threshold ${threshold.toFixed(4)} reaches recall ≥ ${o.targetRecall} on the run's validation split (${val.length} images)`,
      );
    }
    const { name, samples } = samplesOf(o, model.classes, seed);
    const s = await score(samples);
    for (const k of s.skipped) log(`skipped ${k.path}: ${k.reason}`);
    const metrics = modelMetrics(s.labels, s.classProbs, { classes: model.classes, threshold, split: name });
    const out = o.out ?? join(o.model, `evaluation-${name}`);
    await writeReport(out, {
      metrics,
      config: {
        model: resolve(o.model),
        data: resolve(o.data),
        split: name,
        ...(model.classes.length === 2 ? { threshold } : { decision: 'most probable class' }),
        tta,
        backbone: model.info.backbone,
      },
    });
    return { metrics, out };
  } finally {
    await model.release();
  }
}
