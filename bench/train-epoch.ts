/**
 * Where a training epoch's time goes, on MobileNetV2 with the seed recipe (batch 32, 2 threads), and
 * the issue's ratio: a whole epoch's img/s (train steps, their batches' augmentation, the validation
 * pass) against the train step alone on one batch fed again (the engine bench's case). The step alone
 * is timed after every epoch, in the same process, so that each epoch has its own peer from the same
 * minute of a shared machine; its weights are put back after, so the run trains as it would alone.
 *   node dist/bench/train-epoch.js [--epochs 3] [--threads 2] [--prefetch 0] [--workers 0,1] [--augment on,off]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SEED_AUGMENT } from '../src/data/augment.js';
import { checkImages } from '../src/data/check-images.js';
import { discoverDataset } from '../src/data/dataset.js';
import { type Batch, BatchLoader } from '../src/data/loader.js';
import { defaultTargets } from '../src/lora/default-targets.js';
import { addLora } from '../src/lora/lora-model.js';
import { loadOnnxBackbone } from '../src/models/load-onnx-backbone.js';
import { ForwardStep } from '../src/train/forward-step.js';
import { AdamW } from '../src/train/optim/adamw.js';
import { runTraining } from '../src/train/trainer.js';
import { TrainStep } from '../src/train/train-step.js';
import { VALIDATION_BATCH } from '../src/jobs/train-job.js';
import { matmulGflops, median } from './machine.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '3' },
    prefetch: { type: 'string', default: '0' },
    workers: { type: 'string', default: '0,1' },
    threads: { type: 'string', default: '2' },
    augment: { type: 'string', default: 'on,off' },
    shared: { type: 'string', default: join(fileURLToPath(import.meta.url), '../../../../shared') },
  },
});
const [epochs, threads, batch] = [Number(values.epochs), Number(values.threads), 32];
const list = (v: string | undefined) => v!.split(',');

const bb = await loadOnnxBackbone(join(values.shared!, 'models/mobilenet_v2_1.0_224/model.onnx'));
const ds = discoverDataset(join(values.shared!, 'data/smoking'), { seed: 42 });
const size = bb.preprocess.size;
const [trainImgs, valImgs] = [
  await checkImages(ds.splits.train, { onBadImage: 'fail', size }),
  await checkImages(ds.splits.val, { onBadImage: 'fail', size }),
];
const model = addLora(bb, { r: 8, alpha: 16, targets: defaultTargets(bb) }, { numClasses: 2, seed: 42 });
const step = await TrainStep.compile(model, { threads });
const forward = await ForwardStep.compile(model, { threads });
const n = trainImgs.samples.length;

// The time ORT computes the steps: what is left of an epoch is augmentation, validation and glue.
let engineMs = 0;
const run = step.run.bind(step);
step.run = async (...args) => {
  const t = performance.now();
  const result = await run(...args);
  engineMs += performance.now() - t;
  return result;
};

/** The engine bench's case: one batch fed again with the optimizer, then the weights put back; img/s. */
async function stepAlone(b: Batch): Promise<number> {
  const saved = step.params.map((p) => p.value.slice());
  const opt = new AdamW({ weightDecay: 1e-4 });
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    await step.run(b.input, b.labels);
    opt.step(step.params, 1e-4);
    if (i > 0) times.push(performance.now() - t0);
  }
  step.params.forEach((p, i) => p.value.set(saved[i]));
  return (b.labels.length * 1000) / median(times);
}

interface EpochTimes {
  alone: number;
  /** Seconds inside the train step's runs (ORT computing), of the epoch's `steps`. */
  engine: number;
  steps: number;
  val: number;
  wall: number;
}

async function runCase(augment: boolean, prefetch: number, workers: number) {
  const common = { preprocess: bb.preprocess, batchSize: batch, seed: 42, prefetch };
  const train = await BatchLoader.open({
    ...common,
    workers,
    samples: ds.splits.train,
    checked: trainImgs,
    augment: augment ? SEED_AUGMENT : undefined,
    shuffle: true,
  });
  const val = await BatchLoader.open({
    ...common,
    batchSize: VALIDATION_BATCH,
    samples: ds.splits.val,
    checked: valImgs,
  });
  let t0 = performance.now();
  let fixed: Batch | undefined;
  for await (const b of train.epoch(0)) {
    if (fixed)
      train.recycle(b); // as the trainer does
    else fixed = b;
  }
  const loaderS = (performance.now() - t0) / 1000;
  const times: EpochTimes[] = [];
  let lastStep = 0;
  t0 = performance.now();
  await runTraining(
    { model, step, forward, optimizer: new AdamW({ weightDecay: 1e-4 }), train, val },
    {
      epochs,
      schedule: { name: 'constant', lr: 1e-4, warmupEpochs: 0, stepSize: 1, gamma: 1, minLr: 0 },
      clipNorm: 0,
      patience: 0,
      tta: false,
      configHash: 'bench',
      keep: 'best',
      ema: 0,
      swaEpochs: 0,
      lpEpochs: 0,
      mix: { mixup: 0, cutmix: 0 },
      seed: 42,
    },
    {
      onStep() {
        lastStep = performance.now();
      },
      async onEpoch(record) {
        const end = performance.now();
        const engine = engineMs / 1000;
        const alone = await stepAlone(fixed!);
        engineMs = 0;
        times.push({
          alone,
          engine,
          steps: record.seconds,
          val: (end - lastStep) / 1000,
          wall: (end - t0) / 1000,
        });
        t0 = performance.now();
      },
    },
  );
  await Promise.all([train.close(), val.close()]);
  return { loaderS, times };
}

const rows: string[] = [];
for (const aug of list(values.augment))
  for (const pf of list(values.prefetch).map(Number))
    for (const wk of list(values.workers).map(Number)) {
      const { loaderS, times } = await runCase(aug === 'on', pf, wk);
      const m = (f: (t: EpochTimes) => number) => median(times.map(f));
      const share = (t: EpochTimes) => n / t.wall / t.alone;
      rows.push(
        [
          `augment ${aug}, prefetch ${pf}, workers ${wk}`,
          `${loaderS.toFixed(2)} s`,
          `${m((t) => t.alone).toFixed(1)}`,
          `${m((t) => t.steps).toFixed(2)} s (${m((t) => t.engine).toFixed(2)} s)`,
          `${m((t) => t.val).toFixed(2)} s`,
          `${m((t) => t.wall).toFixed(2)} s (${m((t) => n / t.wall).toFixed(1)} img/s)`,
          `${(100 * m((t) => t.engine / t.wall)).toFixed(0)}%`,
          `${(100 * m((t) => n / t.engine / t.alone)).toFixed(0)}%`,
          times.map((t) => `${(100 * share(t)).toFixed(0)}%`).join(', ') +
            ` (median ${(100 * m(share)).toFixed(0)}%)`,
        ].join(' | '),
      );
      console.error(rows.at(-1));
    }
await Promise.all([step.release(), forward.release()]);
console.log(
  `MobileNetV2 + LoRA r8, ${n} training and ${valImgs.samples.length} validation images, batch ${batch}, ${threads} threads, ${epochs} epochs per case; ORT MatMul ${(await matmulGflops(threads)).toFixed(0)} GFLOP/s\n`,
);
console.log(
  '| case | loader alone, one epoch | train step alone, img/s | train steps of an epoch (in ORT) | validation | whole epoch | ORT steps as a share of the epoch | step in the epoch as a share of alone | whole epoch as a share of the step alone, per epoch |',
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---|');
console.log(rows.map((r) => `| ${r} |`).join('\n'));
