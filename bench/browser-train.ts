/**
 * Browser training speed: img/s of a MobileNetV2 LoRA train step (forward + backward + AdamW, the seed
 * recipe's targets) in Chromium's Web Worker on onnxruntime-web with 1 and 2 threads, beside Node's
 * onnxruntime-node with 1 and 2 threads, in one sitting, on the same random batch. Medians of timed steps
 * after one warm-up step. Run under /work/tools/quiet.sh (or on an otherwise idle machine).
 *   node dist/bench/browser-train.js [--iters 5] [--batch 16] [--size 224]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { f32 } from '../src/graph/tensor.js';
import { defaultTargets } from '../src/lora/default-targets.js';
import { addLora } from '../src/lora/lora-model.js';
import { loadOnnxBackbone } from '../src/models/load-onnx-backbone.js';
import { Rng } from '../src/random/rng.js';
import { SERVE_DEFAULTS } from '../src/serve/options.js';
import { startServer } from '../src/serve/server.js';
import { AdamW } from '../src/train/optim/adamw.js';
import { TrainStep } from '../src/train/train-step.js';
import { chromiumSkip, launchChromium } from '../test/helpers/chromium.js';
import { tempDir } from '../test/helpers/tiny-dataset.js';
import { makeRunFolder } from '../test/serve/fixtures.js';
import { median } from './machine.js';

const { values } = parseArgs({
  options: {
    iters: { type: 'string', default: '5' },
    batch: { type: 'string', default: '16' },
    size: { type: 'string', default: '224' },
    shared: { type: 'string', default: join(fileURLToPath(import.meta.url), '../../../../shared') },
  },
});
const iters = Number(values.iters);
const batch = Number(values.batch);
const size = Number(values.size);
const mobilenetPath = join(values.shared!, 'models/mobilenet_v2_1.0_224/model.onnx');
if (chromiumSkip) throw new Error(chromiumSkip);

// In-page code runs in Chromium.
type Dom = any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const location: Dom;
declare const Worker: Dom;

async function nodeCase(threads: number): Promise<number[]> {
  const backbone = await loadOnnxBackbone(mobilenetPath, { imageSize: [size, size] });
  const model = addLora(backbone, { r: 8, alpha: 16, targets: defaultTargets(backbone) }, { seed: 0 });
  const input = f32([batch, 3, size, size], new Rng(1).uniformArray(batch * 3 * size * size, -1, 1));
  const labels = Array.from({ length: batch }, (_, i) => i % 2);
  const step = await TrainStep.compile(model, { threads });
  const opt = new AdamW({ weightDecay: 1e-4 });
  const times: number[] = [];
  for (let i = 0; i <= iters; i++) {
    const t0 = performance.now();
    await step.run(input, labels);
    opt.step(step.params, 1e-4);
    if (i > 0) times.push(performance.now() - t0);
  }
  await step.release();
  return times;
}

const dir = tempDir('smoker-bench-browser-', (fn) => process.on('exit', fn));
const server = await startServer({
  ...SERVE_DEFAULTS,
  model: await makeRunFolder(join(dir, 'run')),
  backbone: mobilenetPath,
  port: 0,
  threads: 1,
  log: () => {},
});
const browser = await launchChromium();
const page = browser.context.pages()[0] ?? (await browser.context.newPage());
await page.goto(server.url + '/');

async function browserCase(threads: number): Promise<number[]> {
  return page.evaluate(
    async ({ threads, batch, size, iters }) => {
      const code = `
        import { ort, onnxBackbone, addLora, defaultTargets, TrainStep, AdamW, Rng } from '${location.origin}/lib/engine.js';
        onmessage = async ({ data: o }) => {
          try {
            ort.env.wasm.numThreads = o.threads;
            const res = await fetch('${location.origin}/v1/backbone.onnx');
            const backbone = await onnxBackbone(new Uint8Array(await res.arrayBuffer()), res.headers.get('x-backbone-name'), { imageSize: [o.size, o.size] });
            const model = addLora(backbone, { r: 8, alpha: 16, targets: defaultTargets(backbone) }, { seed: 0 });
            const n = o.batch * 3 * o.size * o.size;
            const input = { dtype: 'float32', shape: [o.batch, 3, o.size, o.size], data: new Rng(1).uniformArray(n, -1, 1) };
            const labels = Array.from({ length: o.batch }, (_, i) => i % 2);
            const step = await TrainStep.compile(model, { threads: o.threads });
            const opt = new AdamW({ weightDecay: 1e-4 });
            const times = [];
            for (let i = 0; i <= o.iters; i++) {
              const t0 = performance.now();
              await step.run(input, labels);
              opt.step(step.params, 1e-4);
              if (i > 0) times.push(performance.now() - t0);
            }
            postMessage({ times });
          } catch (e) { postMessage({ error: String(e && e.stack || e) }); }
        };`;
      const worker = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), {
        type: 'module',
      });
      const r = await new Promise<Dom>((resolve) => {
        worker.onmessage = (e: Dom) => resolve(e.data);
        worker.postMessage({ threads, batch, size, iters });
      });
      worker.terminate();
      if (r.error) throw new Error(r.error);
      return r.times as number[];
    },
    { threads, batch, size, iters },
  );
}

const rows: string[] = [];
for (const [where, run] of [
  ['Node (onnxruntime-node, MLAS)', nodeCase],
  ['Chromium Web Worker (onnxruntime-web, WebAssembly SIMD)', browserCase],
] as const) {
  for (const threads of [1, 2]) {
    const times = await run(threads);
    const perSec = times.map((ms) => (batch * 1000) / ms).sort((a, b) => a - b);
    rows.push(
      `| ${where} | ${threads} | ${median(perSec).toFixed(1)} | ${perSec[0].toFixed(1)}–${perSec.at(-1)!.toFixed(1)} |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }
}
await browser.close();
await server.close();
process.stdout.write(
  `MobileNetV2 LoRA train step (forward + backward + AdamW), batch ${batch}, ${size}x${size}, medians of ${iters} steps\n\n` +
    `| runtime | threads | img/s (median) | range |\n| --- | ---: | ---: | --- |\n${rows.join('\n')}\n`,
);
