import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { SEED_AUGMENT } from '../../src/data/augment.js';
import type { Batch } from '../../src/data/loader.js';
import { decodeResized } from '../../src/data/image.js';
import { BatchLoader } from '../../src/data/loader.js';
import { toCHW } from '../../src/data/to-chw.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { IMAGENET_PREPROCESS } from '../../src/models/backbone.js';
import { addLora, type LoraModel } from '../../src/lora/lora-model.js';
import { Rng } from '../../src/random/rng.js';
import { loadOnnxBackbone } from '../../src/models/load-onnx-backbone.js';
import type { Backbone } from '../../src/models/backbone.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer } from '../../src/serve/server.js';
import { TrainStep } from '../../src/train/train-step.js';
import { pythonSkip, runPython } from '../export/fixtures.js';
import { chromiumSkip, launchChromium, type Chromium } from '../helpers/chromium.js';
import { lateConvTargets } from '../helpers/late-convs.js';
import { sharedPath } from '../helpers/shared.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { makeRunFolder } from '../serve/fixtures.js';
import { seedLoraB } from '../helpers/lora-b.js';

/*
 * The browser trains with the same modules as Node (bundled by esbuild, onnxruntime-web for -node): from
 * the same decoded photos and seed, a Web Worker's MemoryBatches serve the training loader's augmented
 * batches bit for bit, and on the same batch, backbone file, initial weights and seed, a Web Worker's
 * training step gives Node's loss and gradients. The LoRA B factors start seeded and non-zero (PEFT starts them at
 * zero, which would leave every A gradient zero), so every gradient is compared. The optimizer, the LR
 * schedule and the rest run the same TypeScript on both sides.
 */

// The in-page callback runs in Chromium; the project compiles without the DOM lib.
type Dom = any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const location: Dom;
declare const Worker: Dom;

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');
const photos = sharedPath('data/smoking/Training/Training');
const skip = chromiumSkip || mobilenet.skip || photos.skip;
const FILES = ['notsmoking_0001.jpg', 'smoking_0062.jpg', 'notsmoking_0002.jpg', 'smoking_0064.jpg'];
const LABELS = [0, 1, 0, 1];
const SETTINGS = { rank: 8, alpha: 16, seed: 5 };

const dir = tempDir('smoker-parity-', after);
let run: string;
let resnetPath: string;
let browser: Chromium | undefined;
let context: BrowserContext;
let page: Page;

before(async () => {
  if (skip) return;
  run = await makeRunFolder(join(dir, 'run'));
  // A small CNN file for a quick case: a random ResNet-18's backbone graph at 64x64.
  const resnet = buildResNet(18, randomResNetStateDict(18, 3));
  resnet.graph.inputs[0].shape = ['N', 3, 64, 64];
  mkdirSync(join(dir, 'resnet18_64'));
  resnetPath = join(dir, 'resnet18_64', 'model.onnx');
  writeFileSync(resnetPath, toOnnxBytes(resnet.graph));
  browser = await launchChromium();
  context = browser.context;
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await browser?.close();
});

interface Step {
  loss: number;
  /** Every gradient by trainable name. */
  grads: Record<string, Float32Array>;
  /** Each ReLU's and ReLU6's (Clip's) backward mask, lo < y < hi, one bit per element (LSB first). */
  masks: Record<string, Uint8Array>;
}

/** A ReLU's or Clip's output, its bounds and its place in the graph's (topological) node order. */
interface Gate {
  name: string;
  lo: number;
  hi: number;
  at: number;
}

/** An unbounded side, as a number that survives the trip to the page. */
const MAX = Number.MAX_VALUE;

/** The ReLUs (0 < y) and Clips of a model's graph, the Clips' bounds read from the initializers. */
function gatesOf(model: LoraModel): Gate[] {
  const bound = (name: string | undefined, fallback: number) =>
    name ? (model.graph.initializers.get(name)!.data[0] as number) : fallback;
  return model.graph.nodes.flatMap((n, at) =>
    n.op === 'Clip'
      ? [{ name: n.outputs[0], lo: bound(n.inputs[1], -MAX), hi: bound(n.inputs[2], MAX), at }]
      : n.op === 'Relu'
        ? [{ name: n.outputs[0], lo: 0, hi: MAX, at }]
        : [],
  );
}

/** The backward mask of a gate's output y: lo < y < hi, packed 8 per byte (the worker repeats this). */
function maskBits(y: Float32Array, lo: number, hi: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(y.length / 8));
  for (let i = 0; i < y.length; i++) if (y[i] > lo && y[i] < hi) bits[i >> 3] |= 1 << (i & 7);
  return bits;
}

/** Node: the CLI's modules on onnxruntime-node. */
async function nodeStep(
  backbone: Backbone,
  input: Float32Array,
  targets: string,
): Promise<
  Step & {
    gates: Gate[];
    values: Record<string, Float32Array>;
    shapes: Record<string, number[]>;
    model: LoraModel;
  }
> {
  const model = addLora(
    backbone,
    { r: SETTINGS.rank, alpha: SETTINGS.alpha, targets },
    { seed: SETTINGS.seed },
  );
  // Seeded non-zero B factors, the same on both sides: the worker below repeats seedLoraB's lines.
  seedLoraB(model, new Rng(SETTINGS.seed + 1), 0.01);
  const gates = gatesOf(model);
  const step = await TrainStep.compile(model, { threads: 1, expose: gates.map((c) => c.name) });
  const batch = {
    dtype: 'float32' as const,
    shape: [LABELS.length, 3, ...backbone.preprocess.size],
    data: input,
  };
  const { loss, exposed } = await step.run(batch, LABELS);
  const grads = Object.fromEntries(step.params.map((p) => [p.name, p.grad.slice()]));
  await step.release();
  const values = Object.fromEntries(gates.map((c) => [c.name, exposed![c.name].data as Float32Array]));
  const masks = Object.fromEntries(gates.map((c) => [c.name, maskBits(values[c.name], c.lo, c.hi)]));
  const shapes = Object.fromEntries(gates.map((c) => [c.name, exposed![c.name].shape.map(Number)]));
  return { loss, grads, masks, gates, values, shapes, model };
}

const toB64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const fromB64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

/**
 * Runs `body` in a module Web Worker of the page, with `data` as its message and `engine` its imports from
 * /lib/engine.js (`ort` always, on one thread); `b64` and `unb64` convert between typed arrays and base64.
 * The worker posts what `body` returns.
 */
async function inWorker(engine: string[], body: string, data: unknown): Promise<Dom> {
  const r = await page.evaluate(
    async ({ imports, body, data }) => {
      const code = `
        import { ort, ${imports} } from '${location.origin}/lib/engine.js';
        const b64 = (a) => { let s = ''; const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
          for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000)); return btoa(s); };
        const unb64 = (s) => { const bin = atob(s); const bytes = new Uint8Array(bin.length);
          for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i); return bytes; };
        onmessage = async ({ data }) => {
          try {
            ort.env.wasm.numThreads = 1;
            postMessage(await (async () => { ${body} })());
          } catch (e) { postMessage({ error: String(e && e.stack || e) }); }
        };`;
      const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
      const worker = new Worker(url, { type: 'module' });
      const result = await new Promise<Dom>((resolve, reject) => {
        worker.onmessage = (e: Dom) => resolve(e.data);
        worker.onerror = (e: Dom) => reject(new Error(e.message));
        worker.postMessage(data);
      });
      worker.terminate();
      return result;
    },
    { imports: engine.join(', '), body, data },
  );
  if (r.error) throw new Error(`in the worker: ${r.error}`);
  return r;
}

/** The browser: the same step in a module Web Worker that imports /lib/engine.js; grads come back as base64. */
async function browserStep(
  input: Float32Array,
  targets: string,
  gates: Gate[],
): Promise<Step & { threads: number; isolated: boolean; name: string }> {
  const r = await inWorker(
    ['onnxBackbone', 'addLora', 'TrainStep', 'Rng'],
    `
            const res = await fetch(location.origin + '/v1/backbone.onnx');
            const backbone = await onnxBackbone(new Uint8Array(await res.arrayBuffer()), res.headers.get('x-backbone-name'));
            const s = data.s;
            const model = addLora(backbone, { r: s.rank, alpha: s.alpha, targets: data.targets }, { seed: s.seed });
            const rng = new Rng(s.seed + 1);
            for (const [name, t] of model.params)
              if (/lora_B/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(-0.01, 0.01);
            const step = await TrainStep.compile(model, { threads: 1, expose: data.gates.map((c) => c.name) });
            const batch = { dtype: 'float32', shape: [data.labels.length, 3, ...backbone.preprocess.size], data: new Float32Array(unb64(data.b64).buffer) };
            const { loss, exposed } = await step.run(batch, data.labels);
            const grads = Object.fromEntries(step.params.map((p) => [p.name, b64(p.grad)]));
            const masks = Object.fromEntries(data.gates.map(({ name, lo, hi }) => {
              const y = exposed[name].data; const bits = new Uint8Array(Math.ceil(y.length / 8));
              for (let i = 0; i < y.length; i++) if (y[i] > lo && y[i] < hi) bits[i >> 3] |= 1 << (i & 7);
              return [name, b64(bits)];
            }));
            return { loss, grads, masks, threads: ort.env.wasm.numThreads, isolated: self.crossOriginIsolated, name: backbone.name };`,
    { b64: toB64(input), labels: LABELS, s: SETTINGS, targets, gates },
  );
  return {
    ...r,
    grads: Object.fromEntries(
      Object.entries(r.grads as Record<string, string>).map(([k, v]) => [k, fromB64(v)]),
    ),
    masks: Object.fromEntries(
      Object.entries(r.masks as Record<string, string>).map(([k, v]) => [
        k,
        new Uint8Array(Buffer.from(v, 'base64')),
      ]),
    ),
  };
}

/** max |a − b| over max |b|: the worst element relative to the tensor's scale (0 when both are zero). */
function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff === 0 ? 0 : diff / scale;
}

/** A server for the page (the worker fetches /lib/engine.js from it), offering `backbonePath`. */
async function withPage<T>(backbonePath: string, body: () => Promise<T>): Promise<T> {
  const server = await startServer({
    ...SERVE_DEFAULTS,
    model: run,
    backbone: backbonePath,
    port: 0,
    threads: 1,
    log: () => {},
  });
  try {
    await page.goto(server.url + '/');
    return await body();
  } finally {
    await server.close();
  }
}

/** ‖a − b‖ / ‖b‖: the tensor's error as a whole (0 when both are zero). */
function normError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    scale += b[i] ** 2;
  }
  return diff === 0 ? 0 : Math.sqrt(diff / scale);
}

/** Where the two engines' ReLU and ReLU6 masks disagree: the gate, the element [n, c, y, x] and Node's value there. */
function maskFlips(node: Awaited<ReturnType<typeof nodeStep>>, web: Step) {
  const flips: { gate: Gate; at: number[]; node: number; nodeMask: boolean }[] = [];
  for (const gate of node.gates) {
    const [a, b] = [node.masks[gate.name], web.masks[gate.name]];
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      for (let bit = 0; bit < 8; bit++) {
        if (((a[i] ^ b[i]) >> bit) & 1) {
          const k = i * 8 + bit;
          const y = node.values[gate.name];
          const [, c, h, w] = node.shapes[gate.name];
          const at = [Math.floor(k / (c * h * w)), Math.floor(k / (h * w)) % c, Math.floor(k / w) % h, k % w];
          flips.push({ gate, at, node: y[k], nodeMask: ((a[i] >> bit) & 1) === 1 });
        }
      }
    }
  }
  return flips;
}

/**
 * The step in both, on the real photos decoded by Node at the backbone's size, the server offering
 * `backbonePath`: the loss error and every gradient's worst-element error, relative.
 */
async function compare(t: TestContext, backbonePath: string, targets?: string) {
  const backbone = await loadOnnxBackbone(backbonePath);
  targets ??= defaultTargets(backbone);
  const size = backbone.preprocess.size;
  const per = 3 * size[0] * size[1];
  const input = new Float32Array(FILES.length * per);
  for (const [i, f] of FILES.entries()) {
    const { rgb } = await decodeResized(join(photos.path, f), size);
    input.set(toCHW(rgb, size, backbone.preprocess), i * per);
  }
  const node = await nodeStep(backbone, input, targets);
  const web = await withPage(backbonePath, async () => {
    const t0 = performance.now();
    const w = await browserStep(input, targets, node.gates);
    t.diagnostic(
      `browser: a step of ${FILES.length} at ${size.join('x')} in ${((performance.now() - t0) / 1000).toFixed(1)} s (compile included), ` +
        `${w.threads} thread, cross-origin isolated ${w.isolated}`,
    );
    return w;
  });
  assert.equal(web.isolated, true);
  assert.equal(web.name, backbone.name.split('/').slice(-2).join('/'));
  const lossErr = Math.abs(web.loss - node.loss) / Math.abs(node.loss);
  const names = Object.keys(node.grads);
  assert.deepEqual(Object.keys(web.grads), names);
  // Every gradient is alive (a zero one would compare equal whatever the engine did).
  assert.deepEqual(
    names.filter((n) => !node.grads[n].some((v) => v !== 0)),
    [],
  );
  const errs = names.map((n) => [n, relError(web.grads[n], node.grads[n])] as const);
  const worst = errs.reduce((a, b) => (b[1] > a[1] ? b : a));
  const fine = errs.filter(([, e]) => e < 1e-4).length;
  t.diagnostic(
    `loss node ${node.loss.toFixed(6)} browser ${web.loss.toFixed(6)} (rel ${lossErr.toExponential(2)}); ` +
      `${fine} of ${names.length} gradients within 1e-4, worst ${worst[0]} rel ${worst[1].toExponential(2)}`,
  );
  const normErrs = names.map((n) => [n, normError(web.grads[n], node.grads[n])] as const);
  const worstNorm = normErrs.reduce((a, b) => (b[1] > a[1] ? b : a));
  t.diagnostic(`norm-wise ‖a−b‖/‖b‖: worst ${worstNorm[0]} ${worstNorm[1].toExponential(2)}`);
  // A ReLU or ReLU6 mask bit that the engines set differently changes the gradient of every trainable
  // before that gate (its backward passes dY there or not); the trainables after it cannot see it.
  const flips = maskFlips(node, web);
  const bits = node.gates.reduce((a, c) => a + node.values[c.name].length, 0);
  for (const f of flips)
    t.diagnostic(
      `mask flip: ${f.gate.name} [${f.at.join(', ')}] (node ${f.gate.at} of ${node.model.graph.nodes.length}): ` +
        `Node's y = ${f.node} (mask ${f.nodeMask ? 1 : 0}), the browser's mask ${f.nodeMask ? 0 : 1}`,
    );
  t.diagnostic(`${flips.length} of ${bits} ReLU and ReLU6 mask bits differ`);
  const firstUse = (n: string) => node.model.graph.nodes.findIndex((x) => x.inputs.includes(n));
  const lastFlip = Math.max(-1, ...flips.map((f) => f.gate.at));
  const behindFlip = new Set(names.filter((n) => firstUse(n) < lastFlip));
  const clean = errs.filter(([n]) => !behindFlip.has(n));
  const worstClean = clean.reduce((a, b) => (b[1] > a[1] ? b : a), ['none', 0] as readonly [string, number]);
  t.diagnostic(
    `${behindFlip.size} gradients lie behind a flipped mask; the other ${clean.length}: worst element ` +
      `${worstClean[0]} rel ${worstClean[1].toExponential(2)}`,
  );
  return { lossErr, errs, normErrs, flips, behindFlip };
}

test(
  "augmented batches: a Web Worker's MemoryBatches serve the training loader's batches bit for bit",
  { skip, timeout: 120_000 },
  async () => {
    const preprocess = IMAGENET_PREPROCESS;
    const samples = FILES.map((f, i) => ({ path: join(photos.path, f), label: LABELS[i] }));
    // Two epochs of a shuffled set in batches of 3 (then 1), with the seed recipe's augmentation.
    const opts = { preprocess, batchSize: 3, augment: SEED_AUGMENT, shuffle: true, seed: SETTINGS.seed };
    const loader = await BatchLoader.open({ samples, ...opts, threads: 1 });
    const node: Batch[] = [];
    for (const e of [0, 1]) for await (const b of loader.epoch(e)) node.push(b);
    await loader.close();
    const decoded = await Promise.all(
      samples.map(async (s) => (await decodeResized(s.path, preprocess.size)).rgb),
    );
    const web = (await withPage(resnetPath, () =>
      inWorker(
        ['ImageStore', 'MemoryBatches', 'compileKernel'],
        `
        const store = new ImageStore(data.paths.length, data.opts.preprocess.size, unb64(data.rgb).buffer);
        // The augmentation kernel as the server serves it to the train worker.
        const res = await fetch(location.origin + '/lib/augment-kernel.wasm');
        if (res.headers.get('content-type') !== 'application/wasm') throw new Error('served as ' + res.headers.get('content-type'));
        const kernel = await compileKernel(new Uint8Array(await res.arrayBuffer()));
        const batches = await MemoryBatches.open(store, Int32Array.from(data.labels), data.paths, { ...data.opts, kernel });
        const out = [];
        for (const e of [0, 1])
          for await (const b of batches.epoch(e)) out.push({ input: b64(b.input.data), labels: [...b.labels], paths: b.paths });
        await batches.release();
        return out;`,
        {
          rgb: toB64(Buffer.concat(decoded)),
          labels: LABELS,
          paths: samples.map((s) => s.path),
          opts,
        },
      ),
    )) as { input: string; labels: number[]; paths: string[] }[];
    assert.equal(web.length, 4);
    assert.deepEqual(
      web.map((b) => [b.paths, b.labels]),
      node.map((b) => [b.paths, [...b.labels]]),
    );
    for (const [k, b] of web.entries()) {
      const [got, want] = [fromB64(b.input), node[k].input.data];
      assert.equal(got.length, want.length);
      assert.equal(got.filter((v, i) => !Object.is(v, want[i])).length, 0, `batch ${k}: values that differ`);
    }
    // The batches are augmented: the first image is not the plain one normalised.
    const first = samples.findIndex((s) => s.path === node[0].paths[0]);
    const plain = toCHW(decoded[first], preprocess.size, preprocess);
    assert.notDeepEqual(node[0].input.data.subarray(0, plain.length), plain);
  },
);

test(
  "a small ResNet: the browser's training step gives Node's loss and every gradient within 1e-4 relative",
  { skip, timeout: 300_000 },
  async (t) => {
    const { lossErr, errs } = await compare(t, resnetPath, String.raw`layer[34]\.\d+\.conv[12]`);
    assert.ok(lossErr < 1e-4, `loss: rel ${lossErr}`);
    for (const [n, e] of errs) assert.ok(e < 1e-4, `${n}: rel ${e}`);
  },
);

test(
  'MobileNetV2 at 224 on real photos: the same loss; every gradient that no flipped ReLU6 mask lies behind within 1e-5',
  { skip, timeout: 600_000 },
  async (t) => {
    // WebAssembly and MLAS round differently (~1e-6 relative). Of MobileNetV2's 24M ReLU6 mask bits on
    // this batch, a handful sit within a rounding of a bound (y = 0 on one side, a few 1e-7 on the
    // other) and come out the other way; the backward then passes dY at that element on one side only,
    // which moves the gradients of every trainable before that Clip by that dY's share of them, not by
    // a rounding: both are valid subgradients at the kink. On these photos a flip in block 7 moves
    // blocks 6-7's LoRA gradients by up to 2.5e-3 norm-wise; every trainable that no flipped mask lies
    // after agrees within 1e-5 element-wise, as on the ResNet above.
    const { lossErr, errs, normErrs, flips, behindFlip } = await compare(t, mobilenet.path);
    assert.ok(lossErr < 1e-4, `loss: rel ${lossErr}`);
    for (const [n, e] of normErrs) {
      const bar = behindFlip.has(n) ? 1e-2 : 1e-5;
      assert.ok(e < bar, `${n}: norm-wise rel ${e} (bar ${bar})`);
    }
    for (const f of flips) {
      const off = Math.min(Math.abs(f.node - f.gate.lo), Math.abs(f.node - f.gate.hi));
      assert.ok(off < 1e-5, `${f.gate.name} [${f.at}]: y = ${f.node} is not at a bound`);
    }
    assert.ok(flips.length < 50, `${flips.length} mask bits differ`);
    for (const [n, e] of errs) {
      const bar = behindFlip.has(n) ? 1e-2 : 1e-5;
      assert.ok(
        e < bar,
        `${n}: worst element rel ${e} (bar ${bar}${behindFlip.has(n) ? ', behind a flipped mask' : ''})`,
      );
    }
  },
);

// torch 1.13's exports of the architectures whose ops came after the Train view was built (see
// test/models/torchvision-onnx.test.ts), at 224, randomly initialised, their last third of convs adapted.
const TORCHVISION: [string, number][] = [
  ['mobilenet_v3_small', 17],
  ['shufflenet_v2_x0_5', 13],
  ['efficientnet_b0', 13],
  ['densenet121', 13],
  ['convnext_tiny', 17],
];
const torchSkip = skip || pythonSkip(['torch', 'torchvision']);

test(
  "torchvision's architectures (HardSwish, Slice, Sigmoid, BatchNorm and Pad, LayerNorm and Erf): the browser's step gives Node's loss and gradients",
  { skip: torchSkip, timeout: 900_000 },
  async (t) => {
    for (const [name, opset] of TORCHVISION) {
      const out = join(dir, `${name}-op${opset}`);
      mkdirSync(out);
      runPython('export_torchvision.py', [out, String(opset), name]);
      const path = join(out, `${name}.onnx`);
      t.diagnostic(`${name} at opset ${opset}:`);
      const { lossErr, errs, normErrs, flips, behindFlip } = await compare(
        t,
        path,
        lateConvTargets(await loadOnnxBackbone(path)),
      );
      assert.ok(lossErr < 1e-4, `${name}: loss rel ${lossErr}`);
      // As on MobileNetV2 above: a ReLU's mask bit can flip where y is a rounding from 0 (ShuffleNetV2's
      // random weights flip 3 of 3.3M, one in its last ReLU, so 38 of its 40 gradients lie behind one).
      for (const f of flips) {
        const off = Math.min(Math.abs(f.node - f.gate.lo), Math.abs(f.node - f.gate.hi));
        assert.ok(off < 1e-4, `${name} ${f.gate.name} [${f.at}]: y = ${f.node} is not at a bound`);
      }
      assert.ok(flips.length < 50, `${name}: ${flips.length} mask bits differ`);
      for (const [[n, e], [, normE]] of errs.map((x, k) => [x, normErrs[k]] as const))
        if (behindFlip.has(n)) assert.ok(normE < 5e-2, `${name} ${n}: norm-wise rel ${normE}, behind a flip`);
        else assert.ok(e < 1e-4, `${name} ${n}: worst element rel ${e}`);
    }
  },
);
