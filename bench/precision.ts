/**
 * Precision benchmark: a model as float32, float16 and static int8, in one sitting. For each format it
 * prints the file size, validation accuracy (when the model is a run's, with its data at hand),
 * onnxruntime-node img/s at batch 1 and 32 and onnxruntime-web (wasm) img/s at batch 1, medians of
 * rounds that alternate the formats so drift in machine load hits every format alike. int8 is
 * calibrated on training images, never validation ones: the ones `smoker-lora export` uses, so its rows
 * are the exported model_int8.onnx files.
 *   node dist/bench/precision.js <run folder | model.onnx> [--data <root>] [--calibration all|n]
 *     [--threads 2] [--rounds 7]
 * A model file outside a run folder is timed with ImageNet preprocessing and calibrated on random
 * images, and gets no accuracy.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { checkImages } from '../src/data/check-images.js';
import { discoverDataset } from '../src/data/dataset.js';
import { BatchLoader, type Batch } from '../src/data/loader.js';
import type { Sample } from '../src/data/sample.js';
import { calibrationImages, DEFAULT_CALIBRATION_IMAGES } from '../src/export/calibration-images.js';
import { RUN_FILES } from '../src/run/files.js';
import type { RunInfo } from '../src/run/run-info.js';
import { readRunInfo } from '../src/run/run-info-file.js';
import { computeMetrics } from '../src/eval/metrics.js';
import { positiveProbabilities } from '../src/classify/classify.js';
import { predict } from '../src/train/predict.js';
import { attr, type Graph } from '../src/graph/ir.js';
import { onnxDataType } from '../src/graph/onnx-dtypes.js';
import { toOnnxBytes } from '../src/graph/onnx-export.js';
import { fromOnnxBytes } from '../src/graph/onnx-import.js';
import { f32, type Tensor } from '../src/graph/tensor.js';
import { IMAGENET_PREPROCESS, type Preprocess } from '../src/models/backbone.js';
import { toFloat16, toHalf } from '../src/quantize/fp16.js';
import { toInt8 } from '../src/quantize/int8.js';
import { Rng } from '../src/random/rng.js';
import { Session } from '../src/runtime/session.js';
import { matmulGflops, median } from './machine.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string' },
    calibration: { type: 'string', default: 'all' },
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '7' },
  },
});
const target = positionals[0];
if (!target) {
  process.stderr.write('usage: node dist/bench/precision.js <run folder | model.onnx> [--data <root>] ...\n');
  process.exit(2);
}
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const modelPath = statSync(target).isDirectory() ? join(target, RUN_FILES.model) : target;
const info: RunInfo | undefined = existsSync(join(dirname(modelPath), RUN_FILES.config))
  ? await readRunInfo(dirname(modelPath))
  : undefined;
const preprocess: Preprocess = info?.preprocess ?? IMAGENET_PREPROCESS;
const dataRoot = values.data ?? info?.data;

/** Decodes samples once, through the loader evaluation uses, into batches of 32. */
async function decode(samples: Sample[]): Promise<Batch[]> {
  const checked = await checkImages(samples, { onBadImage: 'fail', size: preprocess.size });
  const loader = await BatchLoader.open({ samples, checked, preprocess, batchSize: 32 });
  const out: Batch[] = [];
  try {
    for await (const b of loader.epoch(0)) out.push(b);
  } finally {
    await loader.close();
  }
  return out;
}

/**
 * Float16 arithmetic, for comparison only: every float value in half precision, Casts at the input and
 * outputs. ORT inserts a Cast pair around each op it has no float16 kernel for; this row shows the cost.
 */
function halfArithmetic(g: Graph): Graph {
  const h = g.clone();
  for (const [name, t] of g.initializers)
    if (t.dtype === 'float32') h.initializers.set(name, toHalf(t as Tensor<'float32'>, name));
  const input = h.inputs[0].name;
  const inside = h.fresh(`${input}.fp16`);
  h.replaceUses(input, inside);
  const cast = (from: string, to: string, dtype: 'float16' | 'float32') =>
    h.add('Cast', [from], { outputs: [to], attrs: { to: attr.int(onnxDataType(dtype)) } });
  cast(input, inside, 'float16');
  for (const o of h.outputs) {
    const half = h.fresh(`${o.name}.fp16`);
    for (const n of h.nodes) n.outputs = n.outputs.map((v) => (v === o.name ? half : v));
    for (const n of h.nodes) n.inputs = n.inputs.map((v) => (v === o.name ? half : v));
    cast(half, o.name, 'float32');
  }
  h.sort();
  return h;
}

async function main(): Promise<void> {
  // Before and after the timings: a gap between the two says other load shared the machine meanwhile.
  const gflopsBefore = await matmulGflops(threads);
  const fp32Bytes = readFileSync(modelPath);
  const g = fromOnnxBytes(fp32Bytes, modelPath);
  const [h, w] = preprocess.size;

  let calibration: Tensor<'float32'>[];
  let val: Batch[] | undefined;
  const count = values.calibration === 'all' ? DEFAULT_CALIBRATION_IMAGES : Number(values.calibration);
  if (dataRoot && info) {
    const ds = discoverDataset(dataRoot, { seed: info.seed, splitFractions: info.splitFractions });
    // The images `smoker-lora export` calibrates on, so the int8 rows are the exported files.
    calibration = await calibrationImages(info, { data: dataRoot, count });
    val = ds.splits.val.length ? await decode(ds.splits.val) : undefined;
  } else {
    const rng = new Rng(0);
    const n = Number.isFinite(count) ? count : 128;
    calibration = [
      f32(
        [n, 3, h, w],
        Float32Array.from({ length: n * 3 * h * w }, () => rng.normal()),
      ),
    ];
  }

  const t0 = performance.now();
  const int8 = await toInt8(g, calibration, { threads });
  const int8Seconds = (performance.now() - t0) / 1000;
  const variants: { format: string; bytes: Uint8Array; note?: string }[] = [
    { format: 'fp32', bytes: fp32Bytes },
    { format: 'fp16', bytes: toOnnxBytes(toFloat16(g)) },
    { format: 'int8', bytes: toOnnxBytes(int8), note: `calibrated in ${int8Seconds.toFixed(1)} s` },
    {
      format: 'int8 percentile',
      bytes: toOnnxBytes(await toInt8(g, calibration, { threads, method: 'percentile' })),
    },
    {
      format: 'fp16 arithmetic',
      bytes: toOnnxBytes(halfArithmetic(g)),
      note: 'not exported: for comparison',
    },
  ];

  const accuracy: (number | undefined)[] = [];
  for (const v of variants) {
    if (!val || !info) {
      accuracy.push(undefined);
      continue;
    }
    const s = await Session.create(v.bytes, { threads });
    async function* batches() {
      yield* val!;
    }
    const logits = async (x: Tensor<'float32'>) =>
      (await s.run({ input: x }, ['logits'])).logits.data as Float32Array;
    const p = await predict(logits, batches(), info.classes.length, { tta: info.tta });
    await s.release();
    const metrics = computeMetrics(p.labels, positiveProbabilities(p.probs, p.numClasses), {
      classes: info.classes,
      threshold: info.threshold,
    });
    accuracy.push(metrics.accuracy);
  }

  // One session alive at a time: ORT's idle worker threads spin for a while after each run and would
  // slow whichever session runs next. The rounds alternate the formats so load drift hits all alike.
  const rng = new Rng(1);
  const x32 = f32(
    [32, 3, h, w],
    Float32Array.from({ length: 32 * 3 * h * w }, () => rng.normal()),
  );
  const x1 = f32([1, 3, h, w], x32.data.subarray(0, 3 * h * w));
  const cases = [
    { x: x1, iters: 10 },
    { x: x32, iters: 2 },
  ];
  const times = variants.map(() => cases.map((): number[] => []));
  // The page's runtime: onnxruntime-web's WebAssembly provider, here in Node on one thread.
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  const webFeed = { input: new web.Tensor('float32', x1.data, x1.shape) };
  const webTimes = variants.map((): number[] => []);
  for (let r = 0; r < rounds; r++)
    for (const [k, v] of variants.entries()) {
      const s = await Session.create(v.bytes, { threads });
      for (const [c, { x, iters }] of cases.entries()) {
        await s.run({ input: x }, ['logits']);
        for (let i = 0; i < iters; i++) {
          const t = performance.now();
          await s.run({ input: x }, ['logits']);
          times[k][c].push((performance.now() - t) / 1000);
        }
      }
      await s.release();
      const ws = await web.InferenceSession.create(v.bytes, {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
      });
      await ws.run(webFeed);
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await ws.run(webFeed);
        webTimes[k].push((performance.now() - t) / 1000);
      }
      await ws.release();
    }
  const imgs = (k: number, c: number) => cases[c].x.shape[0] / median(times[k][c]);
  const gflopsAfter = await matmulGflops(threads);

  const pct = (a: number | undefined) => (a === undefined ? '–' : `${(100 * a).toFixed(2)}%`);
  console.log(
    `model: ${modelPath}${val ? `; validation: ${val.reduce((s, b) => s + b.labels.length, 0)} images` : ''}`,
  );
  console.log(
    `int8 calibrated on ${calibration.reduce((sum, b) => sum + b.shape[0], 0)} ${dataRoot && info ? 'training' : 'random'} images; ${threads} threads; img/s are medians over ${rounds} rounds that alternate the formats`,
  );
  console.log(
    `machine: ${cpus()[0].model}, onnxruntime-node ${ort.env.versions.node ?? ''}; ORT MatMul 2048x2048 at ${gflopsBefore.toFixed(0)} GFLOP/s before, ${gflopsAfter.toFixed(0)} after\n`,
  );
  console.log(
    '| format | file MB | val accuracy | img/s batch 1 | img/s batch 32 | batch 32 vs fp32 | wasm img/s batch 1, 1 thread | note |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [k, v] of variants.entries())
    console.log(
      `| ${v.format} | ${(v.bytes.length / 1e6).toFixed(2)} | ${pct(accuracy[k])} | ${imgs(k, 0).toFixed(1)} | ${imgs(k, 1).toFixed(1)} | ${(imgs(k, 1) / imgs(0, 1)).toFixed(2)}x | ${(1 / median(webTimes[k])).toFixed(1)} | ${v.note ?? ''} |`,
    );
}

await main();
