import { DEFAULT_THRESHOLD, decide, probabilities } from '../classify/classify.js';
import { dropoutRng, mixRng } from '../data/derived-rng.js';
import type { Batch } from '../data/loader.js';
import { HEAD_BIAS, HEAD_WEIGHT } from '../lora/head.js';
import type { LoraModel } from '../lora/lora-model.js';
import type { Checkpoint, TrainProgress } from './checkpoint.js';
import type { ForwardStep } from './forward-step.js';
import type { EpochRecord } from './history.js';
import { learningRate, type ScheduleConfig } from './lr-schedule.js';
import { clipGradNorm } from './optim/clip-grad-norm.js';
import type { Optimizer } from './optim/optimizer.js';
import { FrozenValidation } from './frozen-validation.js';
import { accuracyOf, type Predictions } from './predict.js';
import type { TrainStep } from './train-step.js';
import { mixBatch, type MixConfig } from './mix.js';
import { WeightAverage, withValues } from './weight-average.js';

/** Where a trainer gets its batches: one epoch at a time, from any batch on (for resuming mid-epoch). */
export interface BatchSource {
  epoch(epoch: number, fromBatch?: number): AsyncIterable<Batch>;
  readonly batchesPerEpoch: number;
  /** Total milliseconds the consumer has waited for a batch that was not ready yet. */
  readonly waitMs: number;
  /** Takes back a batch the trainer is done with, to reuse its memory (BatchLoader.recycle). */
  recycle?(batch: Batch): void;
}

export interface TrainerSettings {
  epochs: number;
  schedule: Omit<ScheduleConfig, 'totalSteps' | 'warmupSteps'> & { warmupEpochs: number };
  /** Clip the gradient norm to this (0: off). */
  clipNorm: number;
  /** Stop after this many epochs without a better validation accuracy (0: off). */
  patience: number;
  /** Average predictions with the mirrored image on validation. */
  tta: boolean;
  configHash: string;
  /** Which epoch the run keeps: the best on validation, or the last. */
  keep: 'best' | 'last';
  /** Decay of an exponential moving average of the trainables, updated every step (0: off). */
  ema: number;
  /** Average the trainables over the last this many epochs (stochastic weight averaging; 0: off). */
  swaEpochs: number;
  /** The first this many epochs train the head alone (a linear probe, then LoRA: LP-FT; 0: off). */
  lpEpochs: number;
  /** Mixup and CutMix of each training batch (both 0: off), drawn from `seed`. */
  mix: MixConfig;
  seed: number;
}

export interface StepInfo {
  epoch: number;
  batch: number;
  batches: number;
  loss: number;
  acc: number;
  imgPerSec: number;
  lr: number;
  /** Training time left for the whole run at this epoch's pace (validation not included). */
  etaSeconds: number;
}

export interface TrainerHooks {
  onStep?(info: StepInfo): void;
  /**
   * Called after each epoch, with the weights the run would keep in the model (the average, when one
   * is taken): `keep` when they are the ones to keep so far (save the adapter then).
   */
  onEpoch?(record: EpochRecord, keep: boolean, val?: Predictions): Promise<void> | void;
  /** Polled after every step: true stops the run with a resumable checkpoint (Ctrl-C). */
  shouldStop?(): boolean;
  /** Saves the resumable state, after every epoch and on a stop (the CLI: saveCheckpoint to the run folder). */
  onCheckpoint?(c: Checkpoint): Promise<void>;
}

export type TrainOutcome = { status: 'finished' | 'early-stopped' | 'interrupted'; progress: TrainProgress };

export class DivergedError extends Error {}

const freshRunning = (): TrainProgress['running'] => ({
  loss: 0,
  correct: 0,
  seen: 0,
  seconds: 0,
  waitMs: 0,
});

/**
 * Epochs of LoRA training with per-step LR, a head-only start (LP-FT), weight averaging (EMA or SWA),
 * best-on-validation or last-epoch keeping, early stopping and exact resume. Without `val` every epoch
 * is kept as it ends (there is nothing to choose on).
 */
export async function runTraining(
  parts: {
    model: LoraModel;
    step: TrainStep;
    forward: ForwardStep;
    optimizer: Optimizer;
    train: BatchSource;
    val?: BatchSource;
  },
  s: TrainerSettings,
  hooks: TrainerHooks = {},
  resume?: Checkpoint,
): Promise<TrainOutcome> {
  const { model, step, forward, optimizer, train, val } = parts;
  if (s.ema > 0 && s.swaEpochs > 0) throw new Error('--ema and --swa-epochs: choose one way to average');
  const perEpoch = train.batchesPerEpoch;
  const schedule: ScheduleConfig = {
    ...s.schedule,
    warmupSteps: s.schedule.warmupEpochs * perEpoch,
    totalSteps: s.epochs * perEpoch,
  };
  const head = step.params.filter((q) => q.name === HEAD_WEIGHT || q.name === HEAD_BIAS);
  let p: TrainProgress = {
    epoch: 0,
    batch: 0,
    globalStep: 0,
    history: [],
    best: null,
    running: freshRunning(),
    configHash: s.configHash,
    averaged: 0,
  };
  // Built at the first validation: its images' frozen-layer outputs, kept for every later epoch.
  let frozenVal: FrozenValidation | undefined;
  let average = s.ema > 0 ? WeightAverage.start('ema', s.ema, model.params) : undefined;
  // loadCheckpoint has checked the checkpoint against these settings and this model.
  if (resume) {
    for (const [name, data] of resume.params) model.params.get(name)!.data.set(data);
    optimizer.loadStateDict(resume.optimizer);
    p = resume.progress;
    if (resume.average.size > 0)
      average = new WeightAverage(s.ema > 0 ? 'ema' : 'swa', s.ema, resume.average, p.averaged);
  }
  const checkpoint = async () =>
    hooks.onCheckpoint?.({
      params: new Map([...model.params].map(([n, t]) => [n, t.data])),
      optimizer: optimizer.stateDict(),
      average: average?.values ?? new Map(),
      progress: { ...p, averaged: average?.count ?? 0 },
    });

  while (p.epoch < s.epochs) {
    const waitBefore = train.waitMs;
    const trainees = p.epoch < s.lpEpochs ? head : step.params;
    let t0 = performance.now();
    for await (const b of train.epoch(p.epoch, p.batch)) {
      const lr = learningRate(schedule, p.globalStep);
      const mixed =
        s.mix.mixup > 0 || s.mix.cutmix > 0
          ? mixBatch(b.input.data, b.input.shape, s.mix, mixRng(s.seed, p.epoch, p.batch))
          : undefined;
      const dropout = dropoutRng(s.seed, p.epoch, p.batch);
      const { loss, logits } = mixed
        ? await step.run({ ...b.input, data: mixed.input }, b.labels, { mix: mixed, dropout })
        : await step.run(b.input, b.labels, { dropout });
      train.recycle?.(b);
      if (!Number.isFinite(loss)) {
        throw new DivergedError(
          `training diverged: the loss is ${loss} at epoch ${p.epoch + 1}, batch ${p.batch + 1}; the last checkpoint and the best adapter are kept. Lower --lr or set --clip-norm`,
        );
      }
      if (s.clipNorm > 0) clipGradNorm(trainees, s.clipNorm);
      optimizer.step(trainees, lr);
      if (average?.kind === 'ema') average.update(model.params);
      const n = b.labels.length;
      const probs = probabilities(logits, model.numClasses, false);
      let correct = 0;
      for (let i = 0; i < n; i++)
        if (decide(probs, model.numClasses, i, DEFAULT_THRESHOLD) === b.labels[i]) correct++;
      const now = performance.now();
      p.running.seconds += (now - t0) / 1000;
      t0 = now;
      p.running.loss += loss * n;
      p.running.correct += correct;
      p.running.seen += n;
      p.batch++;
      p.globalStep++;
      const left = (s.epochs - p.epoch) * perEpoch - p.batch;
      const etaSeconds = (left * p.running.seconds) / p.batch;
      hooks.onStep?.({
        epoch: p.epoch,
        batch: p.batch,
        batches: perEpoch,
        loss,
        acc: correct / n,
        imgPerSec: p.running.seen / p.running.seconds,
        lr,
        etaSeconds,
      });
      if (hooks.shouldStop?.()) {
        p.running.waitMs += train.waitMs - waitBefore;
        await checkpoint();
        return { status: 'interrupted', progress: p };
      }
    }
    p.running.waitMs += train.waitMs - waitBefore;
    if (s.swaEpochs > 0 && p.epoch + 1 > s.epochs - s.swaEpochs) {
      average ??= new WeightAverage(
        'swa',
        0,
        new Map([...model.params].map(([n, t]) => [n, t.data.slice()])),
      );
      average.update(model.params);
    }
    // The weights this epoch stands for: the average once there is one, else the trainables.
    const kept = average?.values ?? new Map([...model.params].map(([n, t]) => [n, t.data]));
    await withValues(model.params, kept, async () => {
      if (val) frozenVal ??= await FrozenValidation.open(forward, val.epoch(0), s.tta);
      const valPred = await frozenVal?.predict(model.numClasses);
      // A diverged model must not become the best adapter or the checkpoint: stop before saving either.
      if (valPred && !Number.isFinite(valPred.loss)) {
        throw new DivergedError(
          `training diverged: the validation loss is ${valPred.loss} after epoch ${p.epoch + 1}; the last checkpoint and the best adapter are kept. Lower --lr or set --clip-norm`,
        );
      }
      const record: EpochRecord = {
        epoch: p.epoch + 1,
        trainLoss: p.running.loss / p.running.seen,
        trainAcc: p.running.correct / p.running.seen,
        valLoss: valPred ? valPred.loss : null,
        valAcc: valPred ? accuracyOf(valPred) : null,
        lr: learningRate(schedule, Math.max(0, p.globalStep - 1)),
        seconds: p.running.seconds,
        dataWait: p.running.waitMs / 1000 / Math.max(p.running.seconds, 1e-9),
      };
      p.history.push(record);
      const better =
        !p.best ||
        record.valAcc === null ||
        record.valLoss === null ||
        record.valAcc > p.best.valAcc ||
        (record.valAcc === p.best.valAcc && record.valLoss < p.best.valLoss);
      if (better && record.valAcc !== null && record.valLoss !== null)
        p.best = { valAcc: record.valAcc, valLoss: record.valLoss, epoch: record.epoch };
      await hooks.onEpoch?.(record, s.keep === 'last' || better, valPred);
    });
    const ended = p.history.at(-1)!.epoch;
    p.epoch++;
    p.batch = 0;
    p.running = freshRunning();
    await checkpoint();
    if (s.patience > 0 && p.best && ended - p.best.epoch >= s.patience)
      return { status: 'early-stopped', progress: p };
  }
  return { status: 'finished', progress: p };
}
