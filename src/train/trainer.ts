import { DEFAULT_THRESHOLD, decide, probabilities } from '../classify/classify.js';
import type { Batch } from '../data/loader.js';
import type { LoraModel } from '../lora/lora-model.js';
import { accuracyOf, predict, type Predictions } from './predict.js';
import { saveCheckpoint, type Checkpoint, type TrainProgress } from './checkpoint.js';
import type { ForwardStep } from './forward-step.js';
import type { EpochRecord } from './history.js';
import { learningRate, type ScheduleConfig } from './lr-schedule.js';
import { clipGradNorm } from './optim/clip-grad-norm.js';
import type { Optimizer } from './optim/optimizer.js';
import type { TrainStep } from './train-step.js';

/** Where a trainer gets its batches: one epoch at a time, from any batch on (for resuming mid-epoch). */
export interface BatchSource {
  epoch(epoch: number, fromBatch?: number): AsyncIterable<Batch>;
  readonly batchesPerEpoch: number;
  /** Total milliseconds the consumer has waited for a batch that was not ready yet. */
  readonly waitMs: number;
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
  checkpointPath: string;
  configHash: string;
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
  /** Called after each epoch's validation; `improved` when it is the best so far (save the adapter then). */
  onEpoch?(record: EpochRecord, improved: boolean, val: Predictions): Promise<void> | void;
  /** Polled after every step: true stops the run with a resumable checkpoint (Ctrl-C). */
  shouldStop?(): boolean;
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

/** Epochs of LoRA training with per-step LR, best-on-validation tracking, early stopping and exact resume. */
export async function runTraining(
  parts: {
    model: LoraModel;
    step: TrainStep;
    forward: ForwardStep;
    optimizer: Optimizer;
    train: BatchSource;
    val: BatchSource;
  },
  s: TrainerSettings,
  hooks: TrainerHooks = {},
  resume?: Checkpoint,
): Promise<TrainOutcome> {
  const { model, step, forward, optimizer, train, val } = parts;
  const perEpoch = train.batchesPerEpoch;
  const schedule: ScheduleConfig = {
    ...s.schedule,
    warmupSteps: s.schedule.warmupEpochs * perEpoch,
    totalSteps: s.epochs * perEpoch,
  };
  let p: TrainProgress = {
    epoch: 0,
    batch: 0,
    globalStep: 0,
    history: [],
    best: null,
    running: freshRunning(),
    configHash: s.configHash,
  };
  // loadCheckpoint has checked the checkpoint against these settings and this model.
  if (resume) {
    for (const [name, data] of resume.params) model.params.get(name)!.data.set(data);
    optimizer.loadStateDict(resume.optimizer);
    p = resume.progress;
  }
  const checkpoint = () =>
    saveCheckpoint(s.checkpointPath, {
      params: new Map([...model.params].map(([n, t]) => [n, t.data])),
      optimizer: optimizer.stateDict(),
      progress: p,
    });

  while (p.epoch < s.epochs) {
    const waitBefore = train.waitMs;
    let t0 = performance.now();
    for await (const b of train.epoch(p.epoch, p.batch)) {
      const lr = learningRate(schedule, p.globalStep);
      const { loss, logits } = await step.run(b.input, b.labels);
      if (!Number.isFinite(loss)) {
        throw new DivergedError(
          `training diverged: the loss is ${loss} at epoch ${p.epoch + 1}, batch ${p.batch + 1}; the last checkpoint and the best adapter are kept. Lower --lr or set --clip-norm`,
        );
      }
      if (s.clipNorm > 0) clipGradNorm(step.params, s.clipNorm);
      optimizer.step(step.params, lr);
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
    const valPred = await predict((x) => forward.run(x), val.epoch(0), model.numClasses, { tta: s.tta });
    // A diverged model must not become the best adapter or the checkpoint: stop before saving either.
    if (!Number.isFinite(valPred.loss)) {
      throw new DivergedError(
        `training diverged: the validation loss is ${valPred.loss} after epoch ${p.epoch + 1}; the last checkpoint and the best adapter are kept. Lower --lr or set --clip-norm`,
      );
    }
    const record: EpochRecord = {
      epoch: p.epoch + 1,
      trainLoss: p.running.loss / p.running.seen,
      trainAcc: p.running.correct / p.running.seen,
      valLoss: valPred.loss,
      valAcc: accuracyOf(valPred),
      lr: learningRate(schedule, Math.max(0, p.globalStep - 1)),
      seconds: p.running.seconds,
      dataWait: p.running.waitMs / 1000 / Math.max(p.running.seconds, 1e-9),
    };
    p.history.push(record);
    const improved =
      !p.best ||
      record.valAcc > p.best.valAcc ||
      (record.valAcc === p.best.valAcc && record.valLoss < p.best.valLoss);
    if (improved) p.best = { valAcc: record.valAcc, valLoss: record.valLoss, epoch: record.epoch };
    await hooks.onEpoch?.(record, improved, valPred);
    p.epoch++;
    p.batch = 0;
    p.running = freshRunning();
    await checkpoint();
    if (s.patience > 0 && p.best && record.epoch - p.best.epoch >= s.patience)
      return { status: 'early-stopped', progress: p };
  }
  return { status: 'finished', progress: p };
}
