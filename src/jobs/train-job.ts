import { rm } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { checkImages } from '../data/check-images.js';
import { discoverDataset } from '../data/dataset.js';
import { BatchLoader } from '../data/loader.js';
import { formatSplitCounts } from '../data/split-counts.js';
import { positiveProbabilities } from '../classify/classify.js';
import { computeMetrics, type Metrics } from '../eval/metrics.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { loadAdapterWeights, saveAdapter } from '../lora/adapter-files.js';
import { defaultTargets } from '../lora/default-targets.js';
import { addLora } from '../lora/lora-model.js';
import { mergeLora } from '../lora/merge.js';
import { formatParamTable, summarizeParams } from '../lora/param-table.js';
import { resolveBackbone } from '../models/resolve-backbone.js';
import { writeReport } from '../report/report-md.js';
import { RUN_FILES } from '../run/files.js';
import { checkRunFolder, createRunFolder } from '../run/run-folder.js';
import { makeRunInfo, writeRunInfo } from '../run/run-info.js';
import { configHash, type TrainConfig } from '../run/train-config.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { estimateTrainingMemory } from '../train/memory-estimate.js';
import { ForwardStep } from '../train/forward-step.js';
import { historyCsv, type EpochRecord } from '../train/history.js';
import { AdamW } from '../train/optim/adamw.js';
import type { Optimizer } from '../train/optim/optimizer.js';
import { SGD } from '../train/optim/sgd.js';
import { predict } from '../train/predict.js';
import { runTraining, type StepInfo, type TrainOutcome } from '../train/trainer.js';
import { TrainStep } from '../train/train-step.js';
import { writeFileAtomic } from '../weights/atomic-write.js';

export interface JobHooks {
  log(line: string): void;
  onStep?(info: StepInfo): void;
  onEpochEnd?(): void;
  shouldStop?(): boolean;
}

export interface TrainJobResult {
  outcome: TrainOutcome['status'];
  history: EpochRecord[];
  /** Validation metrics of the best epoch's model (absent when interrupted before any epoch ended). */
  metrics?: Metrics;
  seconds: number;
  dataWait: number;
  /** Trainable parameters (adapters and head). */
  trainable: number;
}

const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n');

function optimizerFor(c: TrainConfig): Optimizer {
  return c.optimizer === 'sgd'
    ? new SGD({ momentum: c.momentum, weightDecay: c.weightDecay })
    : new AdamW({ weightDecay: c.weightDecay });
}

/**
 * The main job: find the data, build backbone + LoRA, train with best-on-validation checkpoints, then
 * write the merged ONNX model, metrics, history, plots and report into the run folder.
 */
export async function runTrainJob(
  c: TrainConfig,
  hooks: JobHooks,
  opts: { resume?: boolean } = {},
): Promise<TrainJobResult> {
  const started = performance.now();
  const ds = discoverDataset(c.data, { seed: c.seed, splitFractions: c.splitFractions });
  hooks.log(`data: ${ds.layout}\n${formatSplitCounts(ds)}`);
  if (ds.classes.length !== 2)
    throw new Error(
      `--data ${c.data}: found ${ds.classes.length} classes (${ds.classes.join(', ')}); smoker-lora trains a two-class detector`,
    );
  if (ds.splits.val.length === 0)
    throw new Error(
      `--data ${c.data}: no validation images; add a Validation folder or pass one unsplit folder to split`,
    );

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

  const backbone = await resolveBackbone(c.backbone, c.weights);
  const model = addLora(
    backbone,
    { r: c.rank, alpha: c.alpha, targets: c.targets ?? defaultTargets(backbone) },
    { numClasses: ds.classes.length, seed: c.seed },
  );
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
    images: ds.splits.train.length + ds.splits.val.length,
  });
  if (need.bytes > freemem())
    throw new Error(
      `this run needs about ${gib(need.bytes)} GiB of memory (${gib(need.parts.activations)} of it for a batch of ${c.batch}) and ${gib(freemem())} GiB is free; lower --batch or --rank, or free memory`,
    );

  await createRunFolder(c.out);
  const info = makeRunInfo(c, ds, model);
  await writeRunInfo(c.out, info);

  const size = backbone.preprocess.size;
  const [trainImgs, valImgs] = [
    await checkImages(ds.splits.train, { onBadImage: c.onBadImage, size }),
    await checkImages(ds.splits.val, { onBadImage: c.onBadImage, size }),
  ];
  for (const s of [...trainImgs.skipped, ...valImgs.skipped]) hooks.log(`skipped ${s.path}: ${s.reason}`);
  const common = { preprocess: backbone.preprocess, batchSize: c.batch, seed: c.seed, workers: c.workers };
  const train = await BatchLoader.open({
    ...common,
    samples: ds.splits.train,
    checked: trainImgs,
    augment: c.augment,
    shuffle: true,
  });
  const val = await BatchLoader.open({ ...common, samples: ds.splits.val, checked: valImgs });
  const step = await TrainStep.compile(model, {
    threads: c.threads,
    labelSmoothing: c.labelSmoothing,
    classWeights: c.classWeights,
  });
  const forward = await ForwardStep.compile(model, { threads: c.threads });
  try {
    const outcome = await runTraining(
      { model, step, forward, optimizer: optimizerFor(c), train, val },
      {
        epochs: c.epochs,
        schedule: {
          name: c.schedule,
          lr: c.lr,
          warmupEpochs: c.warmupEpochs,
          stepSize: c.stepEpochs * train.batchesPerEpoch,
          gamma: c.gamma,
          minLr: c.minLr,
        },
        clipNorm: c.clipNorm,
        patience: c.patience,
        tta: c.tta,
        checkpointPath,
        configHash: configHash(c),
      },
      {
        onStep: hooks.onStep,
        shouldStop: hooks.shouldStop,
        async onEpoch(r, improved) {
          hooks.onEpochEnd?.();
          hooks.log(
            `epoch ${r.epoch}/${c.epochs}: train loss ${r.trainLoss.toFixed(4)} acc ${r.trainAcc.toFixed(4)} | val loss ${r.valLoss.toFixed(4)} acc ${r.valAcc.toFixed(4)}${improved ? ' *best' : ''} | ${r.seconds.toFixed(1)} s, data wait ${(100 * r.dataWait).toFixed(1)}%`,
          );
          if (improved) await saveAdapter(c.out, model);
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

    // The run folder's model is the best epoch's: reload its adapter, merge, and measure it on validation.
    await loadAdapterWeights(c.out, model);
    await writeFileAtomic(join(c.out, RUN_FILES.model), toOnnxBytes(mergeLora(model)));
    const pred = await predict((x) => forward.run(x), val.epoch(0), model.numClasses, { tta: c.tta });
    const metrics = computeMetrics(pred.labels, positiveProbabilities(pred.probs, pred.numClasses), {
      classes: ds.classes,
      split: 'validation',
    });
    await writeReport(c.out, {
      metrics,
      history,
      config: info,
      paramSummary: summarizeParams(model),
      timing: { total: seconds, training: trainSeconds },
    });
    // Finished: the best model is saved, so the resumable state has served its purpose.
    await rm(checkpointPath, { force: true });
    return { outcome: outcome.status, history, metrics, seconds, dataWait, trainable };
  } finally {
    await Promise.all([train.close(), val.close(), step.release(), forward.release()]);
  }
}
