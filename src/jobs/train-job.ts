import { rm } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_THRESHOLD, requireTwoClassesFor } from '../classify/classify.js';
import { checkImages } from '../data/check-images.js';
import { discoverDataset } from '../data/dataset.js';
import { requireClasses } from '../data/require-classes.js';
import { BatchLoader } from '../data/loader.js';
import type { Sample } from '../data/sample.js';
import { formatSplitCounts } from '../data/split-counts.js';
import { modelMetrics, type ModelMetrics } from '../eval/model-metrics.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { loadAdapterWeights, saveAdapter } from '../lora/adapter-files.js';
import { addLora } from '../lora/lora-model.js';
import { mergeLora } from '../lora/merge.js';
import { formatParamTable, summarizeParams } from '../lora/param-table.js';
import { resolveBackbone } from '../models/resolve-backbone.js';
import { writeReport } from '../report/report-md.js';
import { RUN_FILES } from '../run/files.js';
import { checkRunFolder, createRunFolder } from '../run/run-folder.js';
import { makeRunInfo } from '../run/run-info.js';
import { writeRunInfo } from '../run/run-info-file.js';
import { configHash } from '../run/config-hash.js';
import { optimizerFor, trainerSettings } from '../run/trainer-settings.js';
import { loraConfigFor, type TrainConfig } from '../run/train-config.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { ForwardStep } from '../train/forward-step.js';
import { historyCsv, type EpochRecord } from '../train/history.js';
import { estimateTrainingMemory } from '../train/memory-estimate.js';
import { predict, type Predictions } from '../train/predict.js';
import { runTraining, type StepInfo, type TrainOutcome } from '../train/trainer.js';
import { TrainStep } from '../train/train-step.js';
import { writeFileAtomic } from '../weights/atomic-write.js';

export interface JobHooks {
  log(line: string): void;
  onStep?(info: StepInfo): void;
  onEpochEnd?(): void;
  shouldStop?(): boolean;
}

export interface TrainJobOptions {
  /** Continue the unfinished run in the run folder. */
  resume?: boolean;
  /** Train on these samples and validate on those (cross-validation folds), not the data's own split. */
  splits?: { train: Sample[]; val: Sample[]; layout: string };
  /** A paragraph for the report on how the recipe was chosen. */
  recipeNote?: string;
}

export interface TrainJobResult {
  outcome: TrainOutcome['status'];
  history: EpochRecord[];
  /** Validation metrics of the kept model (absent without validation, or when interrupted early). */
  metrics?: ModelMetrics;
  /** The kept model's validation predictions, in the order of its validation samples. */
  validation?: Predictions;
  seconds: number;
  dataWait: number;
  /** Trainable parameters (adapters and head). */
  trainable: number;
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');
const score = (v: number | null) => (v === null ? '-' : v.toFixed(4));

/** The largest validation batch, whatever the training batch. */
export const VALIDATION_BATCH = 16;

/** The images to train and validate on: a given split, every labelled image, or the data's own split. */
function splitsOf(c: TrainConfig, o: TrainJobOptions) {
  const ds = discoverDataset(c.data, { seed: c.seed, splitFractions: c.splitFractions });
  requireClasses(ds.classes, `--data ${c.data}`);
  if (c.threshold !== DEFAULT_THRESHOLD) requireTwoClassesFor('--threshold', ds.classes);
  if (c.classWeights && c.classWeights.length !== ds.classes.length)
    throw new Error(
      `--class-weights: ${c.classWeights.length} weights for ${ds.classes.length} classes (${ds.classes.join(', ')}); give one per class`,
    );
  if (o.splits) return { classes: ds.classes, ...o.splits };
  if (c.allLabelled)
    return {
      classes: ds.classes,
      train: [...ds.splits.train, ...ds.splits.val].sort((a, b) => (a.path < b.path ? -1 : 1)),
      val: [],
      layout: `${ds.layout}; training and validation images pooled (--all-labelled)`,
    };
  if (ds.splits.val.length === 0)
    throw new Error(
      `--data ${c.data}: no validation images; add a Validation folder, pass one unsplit folder to split, or train on all of it with --all-labelled`,
    );
  return { classes: ds.classes, train: ds.splits.train, val: ds.splits.val, layout: ds.layout };
}

/**
 * The main job: find the data, build backbone + LoRA, train (keeping the best epoch on validation, or
 * the last), then write the merged ONNX model, metrics, history, plots and report into the run folder.
 */
export async function runTrainJob(
  c: TrainConfig,
  hooks: JobHooks,
  opts: TrainJobOptions = {},
): Promise<TrainJobResult> {
  const started = performance.now();
  const data = splitsOf(c, opts);
  hooks.log(`data: ${data.layout}`);
  if (!opts.splits && !c.allLabelled)
    hooks.log(formatSplitCounts(discoverDataset(c.data, { seed: c.seed, splitFractions: c.splitFractions })));

  // The run folder is checked before anything is written: a refused run leaves it as it was.
  const checkpointPath = join(c.out, RUN_FILES.checkpoint);
  const state = checkRunFolder(c.out, c.data);
  if (opts.resume && state !== 'unfinished')
    throw new Error(
      `--resume: ${c.out} holds no unfinished run (no ${RUN_FILES.checkpoint})${state === 'finished' ? '; that run finished' : ''}`,
    );
  if (!opts.resume && state === 'unfinished')
    throw new Error(
      `--out ${c.out}: holds an unfinished run; pass --resume to continue it, or choose another folder`,
    );
  if (!opts.resume && state === 'finished')
    throw new Error(`--out ${c.out}: holds a finished run; choose another folder or delete this one`);

  const backbone = await resolveBackbone(c.backbone, c.weights, c.imageSize);
  const model = addLora(backbone, loraConfigFor(c, backbone), {
    numClasses: data.classes.length,
    seed: c.seed,
  });
  hooks.log(formatParamTable(model));
  const { trainable } = summarizeParams(model);
  const resume = opts.resume
    ? await loadCheckpoint(checkpointPath, { configHash: configHash(c), params: model.params }).catch((e) => {
        throw new Error(`--resume: ${(e as Error).message}`);
      })
    : undefined;
  const need = await estimateTrainingMemory(model, {
    batch: c.batch,
    imageSize: backbone.preprocess.size,
    images: data.train.length + data.val.length,
  });
  if (need.bytes > freemem())
    throw new Error(
      `this run needs about ${gib(need.bytes)} GiB of memory (${gib(need.parts.activations)} of it for a batch of ${c.batch}) and ${gib(freemem())} GiB is free; lower --batch or --rank, or free memory`,
    );

  await createRunFolder(c.out);
  const info = makeRunInfo(c, { classes: data.classes, layout: data.layout }, model);
  await writeRunInfo(c.out, info);

  const size = backbone.preprocess.size;
  const [trainImgs, valImgs] = [
    await checkImages(data.train, { onBadImage: c.onBadImage, size }),
    await checkImages(data.val, { onBadImage: c.onBadImage, size }),
  ];
  for (const s of [...trainImgs.skipped, ...valImgs.skipped]) hooks.log(`skipped ${s.path}: ${s.reason}`);
  const common = { preprocess: backbone.preprocess, batchSize: c.batch, seed: c.seed };
  const train = await BatchLoader.open({
    ...common,
    samples: data.train,
    checked: trainImgs,
    augment: c.augment,
    shuffle: true,
    // Between steps ORT's threads are idle: the batch is prepared on as many (bench/train-epoch.ts).
    workers: c.threads - 1,
  });
  const val =
    data.val.length > 0
      ? await BatchLoader.open({
          ...common,
          // Validation runs while the train step's arena holds its memory: half batches halve its
          // activations at the same img/s (inference is as fast at batch 16 as at 32).
          batchSize: Math.min(c.batch, VALIDATION_BATCH),
          samples: data.val,
          checked: valImgs,
        })
      : undefined;
  const step = await TrainStep.compile(model, {
    threads: c.threads,
    labelSmoothing: c.labelSmoothing,
    classWeights: c.classWeights,
    headDropout: c.headDropout,
  });
  const forward = await ForwardStep.compile(model, { threads: c.threads });
  try {
    const outcome = await runTraining(
      { model, step, forward, optimizer: optimizerFor(c), train, val },
      trainerSettings(c, train.batchesPerEpoch, Boolean(val), configHash(c)),
      {
        onStep: hooks.onStep,
        shouldStop: hooks.shouldStop,
        onCheckpoint: (cp) => saveCheckpoint(checkpointPath, cp),
        async onEpoch(r, keep) {
          hooks.onEpochEnd?.();
          hooks.log(
            `epoch ${r.epoch}/${c.epochs}: train loss ${r.trainLoss.toFixed(4)} acc ${r.trainAcc.toFixed(4)} | val loss ${score(r.valLoss)} acc ${score(r.valAcc)}${keep && val && c.keep === 'best' ? ' *best' : ''} | ${r.seconds.toFixed(1)} s, data wait ${(100 * r.dataWait).toFixed(1)}%`,
          );
          if (keep) await saveAdapter(c.out, model);
        },
      },
      resume,
    );
    const history = outcome.progress.history;
    await writeFileAtomic(join(c.out, RUN_FILES.history), json(history));
    await writeFileAtomic(join(c.out, RUN_FILES.historyCsv), new TextEncoder().encode(historyCsv(history)));
    const seconds = (performance.now() - started) / 1000;
    const trainSeconds = history.reduce((s, h) => s + h.seconds, 0);
    const dataWait = history.reduce((s, h) => s + h.dataWait * h.seconds, 0) / Math.max(trainSeconds, 1e-9);
    if (outcome.status === 'interrupted')
      return { outcome: outcome.status, history, seconds, dataWait, trainable };

    // The run folder's model is the kept epoch's: reload its adapter, merge, and measure it on validation.
    await loadAdapterWeights(c.out, model);
    await writeFileAtomic(join(c.out, RUN_FILES.model), toOnnxBytes(mergeLora(model)));
    const validation = val
      ? await predict((x) => forward.run(x), val.epoch(0), model.numClasses, { tta: c.tta })
      : undefined;
    const metrics =
      validation &&
      modelMetrics(validation.labels, validation.probs, {
        classes: data.classes,
        split: 'validation',
        threshold: c.threshold,
      });
    await writeReport(c.out, {
      metrics,
      history,
      config: info,
      paramSummary: summarizeParams(model),
      timing: { total: seconds, training: trainSeconds },
      note: opts.recipeNote,
    });
    // Finished: the kept model is saved, so the resumable state has served its purpose.
    await rm(checkpointPath, { force: true });
    return { outcome: outcome.status, history, metrics, validation, seconds, dataWait, trainable };
  } finally {
    await Promise.all([train.close(), val?.close(), step.release(), forward.release()]);
  }
}
