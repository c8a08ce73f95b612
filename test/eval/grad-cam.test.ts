import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';
import { upsampleBilinear } from '../../src/data/resample.js';
import { camFromGradients } from '../../src/eval/cam.js';
import { explainImage } from '../../src/eval/explain-image.js';
import type { Explanation } from '../../src/eval/grad-cam.js';
import { RUN_FORMAT_VERSION, type RunInfo } from '../../src/run/run-info.js';
import { loadGradCam } from '../../src/run/saved-model.js';
import { SEED_RECIPE } from '../../src/run/train-config.js';
import { attr, Graph } from '../../src/graph/ir.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { f32, type Tensor } from '../../src/graph/tensor.js';
import type { Preprocess } from '../../src/models/backbone.js';
import { loadOnnxBackbone } from '../../src/models/load-onnx-backbone.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { sharedPath } from '../helpers/shared.js';

const root = mkdtempSync(join(tmpdir(), 'smoker-gradcam-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CLASSES = ['notsmoking', 'smoking'];
type Head = [Tensor<'float32'>, Tensor<'float32'>];

/**
 * A run folder as training writes it, from a backbone graph (`input` -> `features`): the head
 * Gemm(features, W, b) -> `logits` baked in as mergeLora does, and a config.json. Returns the folder and
 * the model bytes.
 */
function writeRun(name: string, backbone: Graph, [weight, bias]: Head, preprocess: Preprocess) {
  const g = backbone.clone();
  const w = g.constant(weight, 'fc.weight');
  const b = g.constant(bias, 'fc.bias');
  g.add('Gemm', ['features', w, b], { name: 'fc', outputs: ['logits'], attrs: { transB: attr.int(1) } });
  g.outputs = [
    { name: 'logits', dtype: 'float32', shape: ['N', weight.shape[0]] },
    { name: 'features', dtype: 'float32', shape: ['N', weight.shape[1]] },
  ];
  const dir = join(root, name);
  mkdirSync(dir);
  const bytes = toOnnxBytes(g);
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const config: RunInfo = {
    ...SEED_RECIPE,
    version: RUN_FORMAT_VERSION,
    data: 'synthetic',
    out: dir,
    threads: 1,
    backbone: name,
    targets: 'none',
    classes: CLASSES,
    preprocess,
    layout: 'synthetic (test)',
    threshold: 0.5,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return { dir, bytes };
}

function randomHead(seed: number, featureDim: number): Head {
  const rng = new Rng(seed);
  const bound = 1 / Math.sqrt(featureDim);
  return [
    f32([2, featureDim], rng.uniformArray(2 * featureDim, -bound, bound)),
    f32([2], rng.uniformArray(2, -bound, bound)),
  ];
}

/** The Grad-CAM loss: the positive (last of two) logit summed over the batch. */
const positiveSum = (logits: Tensor) => {
  let s = 0;
  for (let i = 1; i < logits.data.length; i += 2) s += Number(logits.data[i]);
  return s;
};

/**
 * dlogit/dA against central differences through the tail of the merged model alone: A becomes the
 * tail's graph input, and the loss is re-run with single elements of A moved by ±eps. Returns
 * max |numeric − analytic| / max |analytic| over `picks` random elements.
 */
async function tailFiniteDifference(
  modelBytes: Uint8Array,
  layer: string,
  activation: Tensor<'float32'>,
  gradient: Tensor<'float32'>,
  opts: { picks: number; eps: number; seed: number },
): Promise<number> {
  const tail = fromOnnxBytes(modelBytes);
  tail.inputs = [{ name: layer, dtype: 'float32', shape: [...activation.shape] }];
  tail.nodes = tail.nodes.filter((n) => !n.outputs.includes(layer));
  tail.outputs = tail.outputs.filter((o) => o.name === 'logits');
  tail.prune();
  assert.ok(!tail.nodes.some((n) => n.inputs.includes('input')), 'the tail does not read the image');
  const session = await Session.create(tail, { threads: 1 });
  try {
    const scale = Math.max(...gradient.data.map(Math.abs));
    assert.ok(scale > 0, 'the gradient is not all zero');
    const rng = new Rng(opts.seed);
    let worst = 0;
    for (let k = 0; k < opts.picks; k++) {
      const i = rng.int(activation.data.length);
      const at = async (delta: number) => {
        const data = Float32Array.from(activation.data);
        data[i] += delta;
        return positiveSum((await session.run({ [layer]: { ...activation, data } })).logits);
      };
      const numeric = ((await at(opts.eps)) - (await at(-opts.eps))) / (2 * opts.eps);
      worst = Math.max(worst, Math.abs(numeric - gradient.data[i]) / scale);
    }
    if (process.env.GRADCAM_DEBUG) console.log(`${layer}: max relative error ${worst.toExponential(2)}`);
    return worst;
  } finally {
    await session.release();
  }
}

const randomBatch = (n: number, size: [number, number], seed: number) =>
  f32([n, 3, ...size], new Rng(seed).uniformArray(n * 3 * size[0] * size[1], -2, 2));

test('camFromGradients: channel weights are the spatial mean gradient, then ReLU and max-normalise', () => {
  // Two channels on a 1x3 map: w = [mean(1,1,1), mean(0,-2,-1)] = [1, -1].
  const a = Float32Array.from([4, 2, 0, /**/ 1, 1, 3]);
  const da = Float32Array.from([1, 1, 1, /**/ 0, -2, -1]);
  // cam = [4-1, 2-1, 0-3] = [3, 1, -3] -> ReLU -> / 3
  assert.deepEqual([...camFromGradients(a, da, [2, 1, 3])], [1, Math.fround(1 / 3), 0]);
  // Nothing positive: stays zero instead of stretching noise to [0,1].
  assert.deepEqual(
    [
      ...camFromGradients(
        a,
        da.map((v) => -Math.abs(v) - 1),
        [2, 1, 3],
      ),
    ],
    [0, 0, 0],
  );
  assert.throws(() => camFromGradients(a, da, [2, 2, 2]), /2x2x2/);
});

test('upsampleBilinear is half-pixel centred with clamped edges', () => {
  const up = upsampleBilinear(Float32Array.from([0, 1, 2, 3]), [2, 2], [4, 4]);
  assert.deepEqual([...up.subarray(0, 4)], [0, 0.25, 0.75, 1]);
  assert.deepEqual([...up.subarray(12, 16)], [2, 2.25, 2.75, 3]);
  assert.deepEqual([...upsampleBilinear(new Float32Array(9).fill(0.5), [3, 3], [7, 5])], Array(35).fill(0.5));
});

test('resnet18 at 64x64: dlogit/dA matches finite differences through the tail; logits match model.onnx', async () => {
  const size: [number, number] = [64, 64];
  const backbone = buildResNet(18, randomResNetStateDict(18, 7), {
    preprocess: { size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  });
  const head = randomHead(3, 512);
  const { dir, bytes } = writeRun('resnet18', backbone.graph, head, backbone.preprocess);
  const input = randomBatch(2, size, 11);

  const cam = await loadGradCam(dir, { threads: 1 });
  const plain = await Session.create(bytes, { threads: 1 });
  try {
    assert.equal(cam.layer, 'layer4.1.relu_1', "layer4's output, the GlobalAveragePool's input");
    const raw = await cam.run(input);
    assert.deepEqual(raw.activation.shape, [2, 512, 2, 2]);
    assert.deepEqual(raw.gradient.shape, [2, 512, 2, 2]);
    const want = (await plain.run({ input })).logits.data as Float32Array;
    raw.logits.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-4 * Math.abs(want[i]) + 1e-5));

    // GAP then a linear head: dlogit/dA[n,c,y,x] = W[smoking, c] / (h*w) for every sample and position.
    let closedForm = 0;
    raw.gradient.data.forEach((g, i) => {
      const c = Math.floor(i / 4) % 512;
      closedForm = Math.max(closedForm, Math.abs(g - head[0].data[512 + c] / 4));
    });
    assert.ok(closedForm < 1e-7, `|dA - W/4| = ${closedForm}`);
    const err = await tailFiniteDifference(bytes, cam.layer, raw.activation, raw.gradient, {
      picks: 24,
      eps: 0.1,
      seed: 5,
    });
    assert.ok(err < 1e-3, `finite difference vs graph: ${err}`);

    const explained = await cam.explainBatch(input);
    assert.equal(explained.length, 2);
    for (const [i, e] of explained.entries()) {
      assert.deepEqual(e.size, size);
      assert.equal(e.heatmap.length, 64 * 64);
      assert.ok(e.heatmap.every((v) => v >= 0 && v <= 1));
      const p = 1 / (1 + Math.exp(want[i * 2] - want[i * 2 + 1]));
      assert.ok(Math.abs(e.probability - p) < 1e-5);
      assert.equal(e.label, p >= 0.5 ? 'smoking' : 'notsmoking');
    }
  } finally {
    await cam.release();
    await plain.release();
  }
});

test('a deeper layer: the gradient through layer4.1 (convs, ReLUs, residual add) matches finite differences', async () => {
  const size: [number, number] = [64, 64];
  const backbone = buildResNet(18, randomResNetStateDict(18, 8), {
    preprocess: { size, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  });
  const { dir, bytes } = writeRun('resnet18-deep', backbone.graph, randomHead(4, 512), backbone.preprocess);
  const cam = await loadGradCam(dir, { threads: 1, layer: 'layer4.0.relu_1' });
  try {
    const raw = await cam.run(randomBatch(2, size, 12));
    // Not spatially constant any more: real backprop through two 3x3 convs.
    const g = raw.gradient.data;
    assert.ok(g.some((v, i) => i % 4 !== 0 && Math.abs(v - g[i - (i % 4)]) > 1e-6));
    const err = await tailFiniteDifference(bytes, cam.layer, raw.activation, raw.gradient, {
      picks: 24,
      eps: 0.01,
      seed: 6,
    });
    assert.ok(err < 5e-3, `finite difference vs graph: ${err}`);
  } finally {
    await cam.release();
  }
});

/**
 * A detector that knows nothing about position: a 1x1 conv measures "redness" (R − (G+B)/2) and
 * "greenness" per pixel, ReLU, 4x4 max pool, global average pool, and the smoking logit is
 * mean(red) − mean(green)/2. Whatever lights up must be where the red is, and not where the green is.
 */
function redDetector(): Graph {
  const g = new Graph();
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 3, 32, 32] });
  const k = g.constant(f32([2, 3, 1, 1], [1, -0.5, -0.5, -0.5, 1, -0.5]), 'colour.weight');
  const bias = g.constant(f32([2], [-0.25, -0.25]), 'colour.bias');
  const colour = g.op('Conv', ['input', k, bias], { kernel_shape: attr.ints([1, 1]) }, 'colour');
  const pooled = g.op(
    'MaxPool',
    [g.op('Relu', [colour], {}, 'colour.relu')],
    { kernel_shape: attr.ints([4, 4]), strides: attr.ints([4, 4]) },
    'pool',
  );
  const gap = g.op('GlobalAveragePool', [pooled], {}, 'avgpool');
  g.add('Flatten', [gap], { name: 'flatten', outputs: ['features'], attrs: { axis: attr.int(1) } });
  g.outputs.push({ name: 'features', dtype: 'float32', shape: ['N', 2] });
  return g;
}

/** A 64x48 PNG: grey with ±10 levels of noise, plus solid patches [x0, y0, x1, y1) of a colour. */
async function picture(patches: { box: number[]; rgb: number[] }[], seed: number): Promise<Buffer> {
  const [w, h] = [64, 48];
  const rng = new Rng(seed);
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i++) px[i] = 128 + Math.round(rng.uniform(-10, 10));
  for (const { box, rgb } of patches)
    for (let y = box[1]; y < box[3]; y++) for (let x = box[0]; x < box[2]; x++) px.set(rgb, (y * w + x) * 3);
  return sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

/** Share of the heat inside a box of the 32x32 model input, and the argmax's position. */
function heatIn(e: Explanation, box: number[]) {
  const [h, w] = e.size;
  let inside = 0;
  let total = 0;
  let best = 0;
  for (let i = 0; i < h * w; i++) {
    total += e.heatmap[i];
    const [x, y] = [i % w, Math.floor(i / w)];
    if (x >= box[0] && x < box[2] && y >= box[1] && y < box[3]) inside += e.heatmap[i];
    if (e.heatmap[i] > e.heatmap[best]) best = i;
  }
  return { share: inside / total, argmax: [best % w, Math.floor(best / w)], max: e.heatmap[best] };
}

test('the heat sits on the evidence: a red patch lights up wherever it is, a green one never does', async () => {
  const preprocess: Preprocess = { size: [32, 32], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  const head: Head = [f32([2, 2], [0, 0, 1, -0.5]), f32([2], [0, 0])];
  const { dir } = writeRun('red-detector', redDetector(), head, preprocess);
  const RED = [230, 20, 20];
  const GREEN = [20, 230, 20];
  // Boxes in the 64x48 picture and the same region in the 32x32 model input (x/2, y·2/3).
  const topRight = { picture: [40, 6, 56, 18], model: [20, 4, 28, 12] };
  const bottomLeft = { picture: [8, 27, 24, 45], model: [4, 18, 12, 30] };
  const grow = (b: number[], by: number) => [b[0] - by, b[1] - by, b[2] + by, b[3] + by];

  const cam = await loadGradCam(dir, { threads: 1 });
  try {
    assert.equal(cam.layer, 'pool');
    const a = await explainImage(
      cam,
      await picture(
        [
          { box: topRight.picture, rgb: RED },
          { box: bottomLeft.picture, rgb: GREEN },
        ],
        1,
      ),
    );
    const b = await explainImage(
      cam,
      await picture(
        [
          { box: bottomLeft.picture, rgb: RED },
          { box: topRight.picture, rgb: GREEN },
        ],
        2,
      ),
    );
    const none = await explainImage(cam, await picture([{ box: bottomLeft.picture, rgb: GREEN }], 3));
    for (const [e, red, green] of [
      [a, topRight.model, bottomLeft.model],
      [b, bottomLeft.model, topRight.model],
    ] as const) {
      assert.equal(e.label, 'smoking');
      const at = heatIn(e, red);
      assert.equal(at.max, 1);
      // The map is 8x8 upsampled 4x, so it may spill one feature cell (4 pixels) past the patch.
      assert.ok(
        heatIn(e, grow(red, 4)).share > 0.99,
        `heat share near the red patch ${heatIn(e, grow(red, 4)).share}`,
      );
      assert.ok(at.share > 0.6, `heat share inside the red patch ${at.share}`);
      const [x, y] = at.argmax;
      assert.ok(x >= red[0] && x < red[2] && y >= red[1] && y < red[3], `argmax (${x},${y}) in the patch`);
      assert.equal(heatIn(e, green).share, 0, 'no heat on the green patch, which argues against smoking');
    }
    // No positive evidence anywhere: the map stays all zero rather than being stretched.
    assert.equal(none.label, 'notsmoking');
    assert.ok(none.heatmap.every((v) => v === 0));

    // One batch of three gives each image its own map: summing the logit over the batch does not mix them.
    const size = cam.size;
    const per = 3 * 32 * 32;
    const batch = f32([3, 3, ...size]);
    const pics = [
      await picture([{ box: topRight.picture, rgb: RED }], 4),
      await picture([{ box: bottomLeft.picture, rgb: RED }], 5),
      await picture([{ box: bottomLeft.picture, rgb: GREEN }], 6),
    ];
    for (const [i, p] of pics.entries())
      batch.data.set(toCHW((await decodeResized(p, size)).rgb, size, preprocess), i * per);
    const together = await cam.explainBatch(batch);
    for (const [i, p] of pics.entries()) {
      const alone = await explainImage(cam, p);
      assert.ok(Math.abs(alone.probability - together[i].probability) < 1e-6);
      assert.ok(alone.heatmap.every((v, j) => Math.abs(v - together[i].heatmap[j]) < 1e-5));
    }
  } finally {
    await cam.release();
  }

  // Explaining the pre-pool ReLU puts the MaxPool in the backward region (its rule adds an Indices output
  // to the forward node); the map is then at full resolution and still on the red patch only.
  const fine = await loadGradCam(dir, { threads: 1, layer: 'colour.relu' });
  try {
    const e = await explainImage(
      fine,
      await picture(
        [
          { box: topRight.picture, rgb: RED },
          { box: bottomLeft.picture, rgb: GREEN },
        ],
        7,
      ),
    );
    assert.ok(heatIn(e, grow(topRight.model, 1)).share > 0.99);
    assert.equal(heatIn(e, bottomLeft.model).share, 0);
  } finally {
    await fine.release();
  }
});

test('run folder errors are one line naming the folder', async () => {
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await assert.rejects(loadGradCam(empty), /--model .*empty: cannot read .*config\.json/);
  const g = new Graph();
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 3, 8, 8] });
  g.add('Flatten', ['input'], { name: 'flatten', outputs: ['features'], attrs: { axis: attr.int(1) } });
  g.outputs.push({ name: 'features', dtype: 'float32', shape: ['N', 192] });
  const run = writeRun('flat', g, randomHead(1, 192), { size: [8, 8], mean: [0, 0, 0], std: [1, 1, 1] });
  await assert.rejects(loadGradCam(run.dir), /'features' does not come from a GlobalAveragePool/);
  assert.ok(readdirSync(run.dir).includes('model.onnx'));
});

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');
const smokingImages = sharedPath('data/smoking/Validation/Validation');

test(
  'MobileNetV2: explains MobilenetV2/Conv_1/relu6, and its gradient matches finite differences',
  { skip: mobilenet.skip || smokingImages.skip },
  async () => {
    const backbone = await loadOnnxBackbone(mobilenet.path);
    const { dir, bytes } = writeRun(
      'mobilenet',
      backbone.graph,
      randomHead(9, backbone.featureDim),
      backbone.preprocess,
    );
    const cam = await loadGradCam(dir, { threads: 1 });
    try {
      assert.equal(cam.layer, 'MobilenetV2/Conv_1/relu6');
      const file = readdirSync(smokingImages.path).find((f) => f.startsWith('smoking'))!;
      const e = await explainImage(cam, join(smokingImages.path, file));
      assert.deepEqual(e.size, [224, 224]);
      assert.ok(e.heatmap.every((v) => v >= 0 && v <= 1));
      const raw = await cam.run(randomBatch(1, [224, 224], 13));
      assert.deepEqual(raw.activation.shape, [1, 1280, 7, 7]);
      const err = await tailFiniteDifference(bytes, cam.layer, raw.activation, raw.gradient, {
        picks: 12,
        eps: 0.1,
        seed: 7,
      });
      assert.ok(err < 1e-3, `finite difference vs graph: ${err}`);
    } finally {
      await cam.release();
    }
  },
);
