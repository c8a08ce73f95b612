import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { attr, Graph } from '../../src/graph/ir.js';
import { f32 } from '../../src/graph/tensor.js';
import { readAdapterConfig, saveAdapter } from '../../src/lora/adapter-files.js';
import { loraConfigOf } from '../../src/lora/adapter-format.js';
import { loraScaling, rankOf } from '../../src/lora/config.js';
import { addLora, type LoraModel } from '../../src/lora/lora-model.js';
import { mergeLora } from '../../src/lora/merge.js';
import { summarizeParams } from '../../src/lora/param-table.js';
import { IMAGENET_PREPROCESS, type Backbone } from '../../src/models/backbone.js';
import { loadOnnxBackbone } from '../../src/models/load-onnx-backbone.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { ForwardStep } from '../../src/train/forward-step.js';
import { TrainStep } from '../../src/train/train-step.js';
import { sharedPath } from '../helpers/shared.js';

const SIZE: [number, number] = [8, 8];
const CH = 6;
/** A folded BatchNorm's γ/√(var+ε) on the depthwise conv: its update must be scaled by it too. */
const BN = Float32Array.from({ length: CH }, (_, o) => 0.5 + 0.25 * o);

/** input [N,3,8,8] -> 1x1 conv 'expand' (3->6) -> ReLU -> 3x3 depthwise conv 'dw' (group 6) -> pooled features. */
function tinyBackbone(): Backbone {
  const rng = new Rng(3);
  const g = new Graph();
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 3, ...SIZE] });
  g.initializers.set('expand.weight', f32([CH, 3, 1, 1], rng.uniformArray(CH * 3, -0.5, 0.5)));
  g.initializers.set('dw.weight', f32([CH, 1, 3, 3], rng.uniformArray(CH * 9, -0.5, 0.5)));
  g.initializers.set('dw.bias', f32([CH], rng.uniformArray(CH, -0.1, 0.1)));
  const e = g.op('Conv', ['input', 'expand.weight'], { kernel_shape: attr.ints([1, 1]) }, 'expand');
  const relu = g.op('Relu', [e], {}, 'relu');
  const dw = g.op(
    'Conv',
    [relu, 'dw.weight', 'dw.bias'],
    { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]), group: attr.int(CH) },
    'dw',
  );
  const pooled = g.op('GlobalAveragePool', [dw], {}, 'pool');
  g.add('Flatten', [pooled], { name: 'flatten', outputs: ['features'], attrs: { axis: attr.int(1) } });
  g.outputs.push({ name: 'features', dtype: 'float32', shape: ['N', CH] });
  return {
    name: 'grouped-case',
    graph: g,
    featureDim: CH,
    parameterCount: CH * 3 + CH * 9 + CH,
    bnScales: new Map([['dw', BN]]),
    preprocess: { ...IMAGENET_PREPROCESS, size: SIZE },
  };
}

const CONFIG = { r: 2, alpha: 8, targets: 'expand|dw', rankPattern: { dw: 3 } };

function model(seed = 1): LoraModel {
  const m = addLora(tinyBackbone(), CONFIG, { seed });
  const rng = new Rng(seed + 10);
  // B starts at zero, which would make every check below trivially pass.
  for (const s of m.sites)
    m.params.get(s.b)!.data.set(rng.uniformArray(s.shapeB[0] * s.shapeB[1], -0.3, 0.3));
  return m;
}

const input = (n: number, seed = 7) => f32([n, 3, ...SIZE], new Rng(seed).uniformArray(n * 3 * 64, -2, 2));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

test("rank_pattern follows PEFT's rule: a key matches the whole name or a dotted suffix, the first key wins", () => {
  const cfg = { r: 16, alpha: 32, targets: '.*', rankPattern: { '.*depthwise': 8, 'conv[12]': 4, conv1: 2 } };
  assert.equal(rankOf(cfg, 'MobilenetV2/expanded_conv_6/depthwise'), 8);
  assert.equal(rankOf(cfg, 'layer3.0.conv1'), 4);
  assert.equal(rankOf(cfg, 'layer3.0.myconv1'), 16);
  assert.equal(rankOf(cfg, 'MobilenetV2/expanded_conv_6/expand'), 16);
  assert.equal(loraScaling(cfg, 8), 4);
  assert.equal(loraScaling({ ...cfg, rslora: true }, 4), 16);
});

test('a depthwise conv is adapted in its weight space: [r, 1, k, k] and [out, r, 1, 1] at its own rank, merged exactly', async () => {
  const m = model();
  const dw = m.sites.find((s) => s.node === 'dw')!;
  assert.deepEqual(
    [dw.shapeA, dw.shapeB],
    [
      [3, 1, 3, 3],
      [CH, 3, 1, 1],
    ],
  );
  assert.deepEqual(m.sites.find((s) => s.node === 'expand')!.shapeA, [2, 3, 1, 1]);
  assert.equal(summarizeParams(m).adapter, 2 * 3 + CH * 2 + 3 * 9 + CH * 3);

  // The merged kernel, by hand: W + γ/σ · (alpha/3) · B·A per output channel.
  const merged = mergeLora(m);
  const a = m.params.get(dw.a)!.data;
  const b = m.params.get(dw.b)!.data;
  const w0 = tinyBackbone().graph.initializers.get('dw.weight')!.data as Float32Array;
  const expected = Float32Array.from(w0, (v, i) => {
    const [o, tap] = [Math.floor(i / 9), i % 9];
    let sum = 0;
    for (let k = 0; k < 3; k++) sum += b[o * 3 + k] * a[k * 9 + tap];
    return v + BN[o] * (8 / 3) * sum;
  });
  assert.ok(maxAbsDiff(merged.initializers.get('dw.weight')!.data as Float32Array, expected) < 1e-6);

  const x = input(2);
  const adapted = await (await ForwardStep.compile(m)).run(x);
  const plain = (await (await Session.create(merged)).run({ input: x })).logits.data as Float32Array;
  assert.ok(maxAbsDiff(plain, adapted) < 1e-5, `merged vs adapted: ${maxAbsDiff(plain, adapted)}`);
});

test("the train step's gradients of a depthwise site's A and B match central differences of its loss", async () => {
  const m = model(2);
  const step = await TrainStep.compile(m, { threads: 1, imageSize: SIZE });
  const x = input(3, 4);
  const labels = [0, 1, 1];
  const { loss } = await step.run(x, labels);
  assert.ok(Number.isFinite(loss));
  const grads = new Map(step.params.map((p) => [p.name, Float32Array.from(p.grad)]));
  const eps = 1e-2;
  for (const name of ['dw.lora_A.weight', 'dw.lora_B.weight']) {
    const value = m.params.get(name)!.data;
    const analytic = grads.get(name)!;
    const scale = Math.max(...analytic.map(Math.abs));
    assert.ok(scale > 0, `${name} has a gradient`);
    let worst = 0;
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      value[i] = v + eps;
      const up = (await step.run(x, labels)).loss;
      value[i] = v - eps;
      const down = (await step.run(x, labels)).loss;
      value[i] = v;
      worst = Math.max(worst, Math.abs((up - down) / (2 * eps) - analytic[i]) / scale);
    }
    assert.ok(worst < 5e-3, `${name}: worst relative error ${worst}`);
  }
  await step.release();
});

test('grouped targets: a rank above the kernel matrix, or DoRA, is refused in one line naming the target', () => {
  assert.throws(
    () => addLora(tinyBackbone(), { r: 16, alpha: 8, targets: 'dw' }),
    /^Error: lora: rank 16 is above what target 'dw' can use: its update is 6x9, so its rank is at most 6; pass --rank 6 or less, or give it its own rank with --rank-pattern$/,
  );
  assert.throws(
    () => addLora(tinyBackbone(), { r: 4, alpha: 8, targets: 'dw', rankPattern: { dw: 7 } }),
    /give it a rank of 6 or less in --rank-pattern$/,
  );
  assert.throws(
    () => addLora(tinyBackbone(), { r: 2, alpha: 8, targets: 'dw', dora: true }),
    /target 'dw' is a grouped conv \(group 6\), which DoRA does not adapt here/,
  );
});

test('adapter_config.json carries rank_pattern (PEFT key) only when there is one, and reads it back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grouped-'));
  await saveAdapter(dir, model());
  const config = await readAdapterConfig(dir);
  assert.deepEqual(config.rank_pattern, { dw: 3 });
  assert.deepEqual(loraConfigOf(config), { ...CONFIG, rslora: false });
  const plain = mkdtempSync(join(tmpdir(), 'grouped-'));
  await saveAdapter(plain, addLora(tinyBackbone(), { r: 2, alpha: 4, targets: 'expand' }));
  assert.ok(!('rank_pattern' in (await readAdapterConfig(plain))));
});

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');

test(
  "MobileNetV2's depthwise convs of blocks 6-16 beside the default 1x1 targets: a finite train step, and merging keeps the logits",
  { skip: mobilenet.skip },
  async () => {
    const backbone = await loadOnnxBackbone(mobilenet.path, { imageSize: [96, 96] });
    const m = addLora(
      backbone,
      {
        r: 16,
        alpha: 32,
        targets: String.raw`MobilenetV2/expanded_conv_([6-9]|1[0-6])/(expand|project|depthwise)`,
        rankPattern: { '.*depthwise': 8 },
      },
      { seed: 1 },
    );
    const depthwise = m.sites.filter((s) => s.node.endsWith('/depthwise'));
    assert.equal(depthwise.length, 11);
    assert.ok(depthwise.every((s) => s.shapeA.join() === '8,1,3,3'));
    const rng = new Rng(2);
    const x = f32([2, 3, 96, 96], rng.uniformArray(2 * 3 * 96 * 96, -2, 2));
    for (const s of m.sites)
      m.params.get(s.b)!.data.set(rng.uniformArray(s.shapeB[0] * s.shapeB[1], -0.02, 0.02));
    const step = await TrainStep.compile(m, { threads: 2 });
    const { loss } = await step.run(x, [0, 1]);
    assert.ok(Number.isFinite(loss));
    for (const p of step.params.filter((q) => q.name.includes('/depthwise.')))
      assert.ok(p.grad.every(Number.isFinite) && p.grad.some((v) => v !== 0), p.name);
    await step.release();
    const adapted = await (await ForwardStep.compile(m)).run(x);
    const plain = (await (await Session.create(mergeLora(m))).run({ input: x })).logits.data as Float32Array;
    const scale = Math.max(...adapted.map(Math.abs));
    assert.ok(maxAbsDiff(plain, adapted) / scale < 1e-4, `merged vs adapted: ${maxAbsDiff(plain, adapted)}`);
  },
);
