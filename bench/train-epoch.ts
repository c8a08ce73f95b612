/**
 * Where a training epoch's time goes, on MobileNetV2 with the seed recipe (batch 32, 2 threads): the
 * train step alone on one fixed batch (the engine bench's case), the training loader alone, whole
 * epochs with augmentation on and off (train steps, then the validation pass), each in this process.
 *   node dist/bench/train-epoch.js [--epochs 2] [--threads 2] [--data-threads N (default: the loader's)] [--prefetch 0] [--augment on,off]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SEED_AUGMENT } from '../src/data/augment.js';
import { checkImages } from '../src/data/check-images.js';
import { discoverDataset } from '../src/data/dataset.js';
import { BatchLoader } from '../src/data/loader.js';
import { defaultTargets } from '../src/lora/default-targets.js';
import { addLora } from '../src/lora/lora-model.js';
import { loadOnnxBackbone } from '../src/models/load-onnx-backbone.js';
import { ForwardStep } from '../src/train/forward-step.js';
import { AdamW } from '../src/train/optim/adamw.js';
import { runTraining } from '../src/train/trainer.js';
import { TrainStep } from '../src/train/train-step.js';
import { median } from './machine.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '2' },
    prefetch: { type: 'string', default: '0' },
    'data-threads': { type: 'string' },
    threads: { type: 'string', default: '2' },
    augment: { type: 'string', default: 'on,off' },
    shared: { type: 'string', default: join(fileURLToPath(import.meta.url), '../../../../shared') },
  },
});
const [epochs, prefetch, threads, batch] = [
  Number(values.epochs),
  Number(values.prefetch),
  Number(values.threads),
  32,
];

const bb = await loadOnnxBackbone(join(values.shared!, 'models/mobilenet_v2_1.0_224/model.onnx'));
const ds = discoverDataset(join(values.shared!, 'data/smoking'), { seed: 42 });
const size = bb.preprocess.size;
let t0 = performance.now();
const [trainImgs, valImgs] = [
  await checkImages(ds.splits.train, { onBadImage: 'fail', size }),
  await checkImages(ds.splits.val, { onBadImage: 'fail', size }),
];
const decodeS = (performance.now() - t0) / 1000;
const model = addLora(bb, { r: 8, alpha: 16, targets: defaultTargets(bb) }, { numClasses: 2, seed: 42 });
const step = await TrainStep.compile(model, { threads });
const forward = await ForwardStep.compile(model, { threads });
const common = {
  preprocess: bb.preprocess,
  batchSize: batch,
  seed: 42,
  threads: values['data-threads'] === undefined ? undefined : Number(values['data-threads']),
  prefetch,
};
const loaders = async (augment: boolean) => ({
  train: await BatchLoader.open({
    ...common,
    samples: ds.splits.train,
    checked: trainImgs,
    augment: augment ? SEED_AUGMENT : undefined,
    shuffle: true,
  }),
  val: await BatchLoader.open({ ...common, samples: ds.splits.val, checked: valImgs }),
});
const rows: string[] = [
  `| decode + resize, ${trainImgs.samples.length + valImgs.samples.length} images once | ${decodeS.toFixed(2)} s | |`,
];
const row = (what: string, s: number, imgs: number) => {
  rows.push(`| ${what} | ${s.toFixed(2)} s | ${(imgs / s).toFixed(1)} |`);
  console.error(rows.at(-1));
};

// The engine bench's case: one batch, fed again and again, with the optimizer.
{
  const { train, val } = await loaders(false);
  const it = train.epoch(0)[Symbol.asyncIterator]();
  const b = (await it.next()).value!;
  await it.return?.();
  const opt = new AdamW({ weightDecay: 1e-4 });
  const times: number[] = [];
  for (let i = 0; i < 8; i++) {
    t0 = performance.now();
    await step.run(b.input, b.labels);
    opt.step(step.params, 1e-4);
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  row('train step alone, one batch of 32 (median of 7)', median(times), batch);
  await Promise.all([train.close(), val.close()]);
}

for (const augment of values.augment!.split(',').map((v) => v === 'on')) {
  const { train, val } = await loaders(augment);
  const tag = `augment ${augment ? 'on' : 'off'}, prefetch ${prefetch}, data threads ${values['data-threads'] ?? 'default'}`;
  t0 = performance.now();
  for await (const _ of train.epoch(0)) void _;
  row(`${tag}: training loader alone, one epoch`, (performance.now() - t0) / 1000, train.samples.length);
  let valS = 0;
  let wallT0 = performance.now();
  const epochWall: number[] = [];
  const timedVal = {
    batchesPerEpoch: val.batchesPerEpoch,
    get waitMs() {
      return val.waitMs;
    },
    async *epoch(e: number) {
      const v0 = performance.now();
      yield* val.epoch(e);
      valS += (performance.now() - v0) / 1000;
    },
  };
  const out = await runTraining(
    { model, step, forward, optimizer: new AdamW({ weightDecay: 1e-4 }), train, val: timedVal },
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
      onEpoch() {
        const now = performance.now();
        epochWall.push((now - wallT0) / 1000);
        wallT0 = now;
      },
    },
  );
  const h = out.progress.history;
  const n = train.samples.length;
  row(`${tag}: train steps of an epoch (median)`, median(h.map((r) => r.seconds)), n);
  row(`${tag}: validation pass, ${val.samples.length} images (mean)`, valS / epochs, val.samples.length);
  row(`${tag}: whole epoch, end to end (median; img/s of training images)`, median(epochWall), n);
  console.error(`${tag}: data wait ${h.map((r) => (100 * r.dataWait).toFixed(1) + '%').join(', ')}`);
  await Promise.all([train.close(), val.close()]);
}
await Promise.all([step.release(), forward.release()]);
console.log(`MobileNetV2 + LoRA r8, batch ${batch}, ${threads} threads, ${epochs} epochs per case\n`);
console.log('| part | time | img/s |\n|---|---:|---:|');
console.log(rows.join('\n'));
