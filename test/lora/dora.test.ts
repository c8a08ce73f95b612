import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { appendBackward } from '../../src/autodiff/backward.js';
import { attr, Graph } from '../../src/graph/ir.js';
import { f32, type Tensor } from '../../src/graph/tensor.js';
import { loadAdapterWeights, readAdapterConfig, saveAdapter } from '../../src/lora/adapter-files.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, loraConfigOf } from '../../src/lora/adapter-format.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora, loadParams, type LoraModel } from '../../src/lora/lora-model.js';
import { mergeLora, unmergeLora } from '../../src/lora/merge.js';
import { formatParamTable, summarizeParams } from '../../src/lora/param-table.js';
import { IMAGENET_PREPROCESS, type Backbone } from '../../src/models/backbone.js';
import { foldBatchNorm } from '../../src/models/fold-batchnorm.js';
import { loadOnnxBackbone } from '../../src/models/load-onnx-backbone.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';
import { probeShapes } from '../../src/runtime/probe-shapes.js';
import { Session } from '../../src/runtime/session.js';
import { ForwardStep } from '../../src/train/forward-step.js';
import { TrainStep } from '../../src/train/train-step.js';
import { loadSafetensors } from '../../src/weights/safetensors-file.js';
import { sharedPath } from '../helpers/shared.js';

/** PyTorch's DoRA conv (PEFT's code, line by line) and its BatchNorm: see record_dora_parity.py. */
interface Flat {
  shape: number[];
  data: number[];
}
interface Case {
  kernel: number;
  stride: number;
  r: number;
  alpha: number;
  eps: number;
  x: Flat;
  weight: Flat;
  bn: Record<'weight' | 'bias' | 'running_mean' | 'running_var', Flat>;
  lora_A: Flat;
  lora_B: Flat;
  magnitude_init: Flat;
  magnitude: Flat;
  R: Flat;
  y: Flat;
  loss: number;
  grad: Record<'lora_A' | 'lora_B' | 'magnitude', Flat>;
  merged_weight: Flat;
}
const { cases } = JSON.parse(
  readFileSync(new URL('../../../test/lora/dora-parity.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

const t32 = (f: Flat): Tensor<'float32'> => f32(f.shape, f.data);

/** max |a - b| / max |b|. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let [diff, scale] = [0, 0];
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** The case's conv with its BatchNorm folded in, as our backbones hold it, then pooled to 'features'. */
function caseBackbone(c: Case): Backbone {
  const bn = {
    weight: t32(c.bn.weight),
    bias: t32(c.bn.bias),
    runningMean: t32(c.bn.running_mean),
    runningVar: t32(c.bn.running_var),
  };
  const { weight, bias, scale } = foldBatchNorm(t32(c.weight), bn, c.eps);
  const g = new Graph();
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', ...c.x.shape.slice(1)] });
  g.initializers.set('conv.weight', weight);
  g.initializers.set('conv.bias', bias);
  const pad = (c.kernel - 1) / 2;
  const y = g.op(
    'Conv',
    ['input', 'conv.weight', 'conv.bias'],
    {
      kernel_shape: attr.ints([c.kernel, c.kernel]),
      strides: attr.ints([c.stride, c.stride]),
      pads: attr.ints([pad, pad, pad, pad]),
    },
    'conv',
  );
  const pooled = g.op('GlobalAveragePool', [y], {}, 'pool');
  g.add('Flatten', [pooled], { name: 'flatten', outputs: ['features'], attrs: { axis: attr.int(1) } });
  const cout = weight.shape[0];
  g.outputs.push({ name: 'features', dtype: 'float32', shape: ['N', cout] });
  return {
    name: 'dora-case',
    graph: g,
    featureDim: cout,
    parameterCount: weight.data.length + 2 * cout,
    bnScales: new Map([['conv', scale]]),
    preprocess: IMAGENET_PREPROCESS,
  };
}

function caseModel(c: Case): LoraModel {
  const model = addLora(caseBackbone(c), { r: c.r, alpha: c.alpha, targets: ['conv'], dora: true });
  const values = new Map<string, Tensor>(model.params);
  values.set('conv.lora_A.weight', t32(c.lora_A));
  values.set('conv.lora_B.weight', t32(c.lora_B));
  values.set('conv.lora_magnitude_vector', t32(c.magnitude));
  loadParams(model, values, 'dora-parity.json');
  return model;
}

cases.forEach((c, k) => {
  test(`DoRA case ${k + 1} (${c.kernel}x${c.kernel} stride ${c.stride}, r ${c.r}): PEFT's magnitude init, output, loss and gradients within 1e-5`, async (t) => {
    const init = addLora(caseBackbone(c), { r: c.r, alpha: c.alpha, targets: ['conv'], dora: true });
    const m0 = init.params.get('conv.lora_magnitude_vector')!;
    assert.deepEqual(m0.shape, c.magnitude_init.shape);
    const errors: Record<string, number> = { magnitude_init: relErr(m0.data, c.magnitude_init.data) };

    const model = caseModel(c);
    const g = model.graph.clone();
    g.inputs = g.inputs.map((i) => (i.name === 'input' ? { ...i, shape: c.x.shape } : i));
    const r = g.constant(t32(c.R), 'R');
    const loss = g.op('ReduceSum', [g.op('Mul', ['conv', r])], { keepdims: attr.int(0) }, 'loss');
    const wrt = ['conv.lora_A.weight', 'conv.lora_B.weight', 'conv.lora_magnitude_vector'];
    const grads = appendBackward(g, { loss, wrt, shapes: await probeShapes(g) });
    g.outputs = [
      { name: 'conv', dtype: 'float32', shape: c.y.shape },
      { name: loss, dtype: 'float32', shape: [] },
      ...wrt.map((w) => ({
        name: grads.get(w)!,
        dtype: 'float32' as const,
        shape: [...model.params.get(w)!.shape],
      })),
    ];
    const out = await (await Session.create(g)).run({ input: t32(c.x), ...Object.fromEntries(model.params) });
    errors.y = relErr(out.conv.data as Float32Array, c.y.data);
    errors.loss = relErr(out[loss].data as Float32Array, [c.loss]);
    const refGrads = [c.grad.lora_A, c.grad.lora_B, c.grad.magnitude];
    wrt.forEach(
      (w, i) => (errors[`grad ${w}`] = relErr(out[grads.get(w)!].data as Float32Array, refGrads[i].data)),
    );
    t.diagnostic(`relative errors ${JSON.stringify(errors)}`);
    for (const [name, err] of Object.entries(errors))
      assert.ok(err < 1e-5, `${name}: relative error ${err.toExponential(2)}`);
  });
});

test("DoRA merges to PEFT's (m/n)·(W + s·B·A) through the BatchNorm, and the merged model gives the adapted logits", async () => {
  for (const c of cases) {
    const model = caseModel(c);
    const merged = mergeLora(model);
    const cout = c.weight.shape[0];
    const cols = c.weight.data.length / cout;
    const { running_var: v, weight: gamma } = c.bn;
    const folded = c.merged_weight.data.map((w, j) => {
      const o = Math.floor(j / cols);
      return (w * gamma.data[o]) / Math.sqrt(v.data[o] + c.eps);
    });
    assert.ok(relErr(merged.initializers.get('conv.weight')!.data as Float32Array, folded) < 1e-5);
    const input = t32(c.x);
    const adapted = await (await ForwardStep.compile(model)).run(input);
    const plain = (await (await Session.create(merged)).run({ input })).logits.data as Float32Array;
    assert.ok(relErr(plain, adapted) < 1e-5, `merged vs adapted: ${relErr(plain, adapted)}`);
  }
});

test('DoRA on resnet18: merged and adapted logits agree within 1e-4, unmerge restores W, the table counts m', async () => {
  const backbone = buildResNet(18, randomResNetStateDict(18, 3));
  const config = { r: 4, alpha: 8, targets: defaultTargets(backbone), dora: true };
  const model = addLora(backbone, config, { seed: 5 });
  assert.deepEqual([...model.params.keys()].slice(0, 3), [
    'layer3.0.conv1.lora_A.weight',
    'layer3.0.conv1.lora_B.weight',
    'layer3.0.conv1.lora_magnitude_vector',
  ]);
  // The init is the identity of LoRA's: A and B as without DoRA (the magnitude draws no random numbers).
  const lora = addLora(backbone, { ...config, dora: false }, { seed: 5 });
  for (const [name, t] of lora.params) assert.deepEqual(model.params.get(name)!.data, t.data);
  const rng = new Rng(9);
  for (const s of model.sites) {
    model.params.get(s.b)!.data.set(rng.uniformArray(s.shapeB[0] * s.shapeB[1], -0.05, 0.05));
    const m = model.params.get(s.magnitude!)!.data;
    for (let o = 0; o < m.length; o++) m[o] *= rng.uniform(0.8, 1.2);
  }
  const input = f32([2, 3, 64, 64], rng.uniformArray(2 * 3 * 64 * 64, -2, 2));
  const adapted = await (await ForwardStep.compile(model)).run(input);
  const merged = mergeLora(model);
  assert.ok(
    !merged.nodes.some((n) => /lora|stop_gradient/.test(n.name)),
    'the merged graph is a plain model',
  );
  const plain = (await (await Session.create(merged)).run({ input })).logits.data as Float32Array;
  assert.ok(relErr(plain, adapted) < 1e-4, `merged vs adapted: ${relErr(plain, adapted)}`);
  const restored = unmergeLora(merged, model);
  for (const s of model.sites) {
    const name = backbone.graph.node(s.node).inputs[1];
    const err = relErr(
      restored.initializers.get(name)!.data as Float32Array,
      backbone.graph.initializers.get(name)!.data as Float32Array,
    );
    assert.ok(err < 1e-5, `${s.node}: unmerged weight differs by ${err}`);
  }
  const withoutDora = summarizeParams(lora);
  const magnitudes = model.sites.reduce((n, s) => n + s.shapeB[0], 0);
  assert.equal(summarizeParams(model).adapter, withoutDora.adapter + magnitudes);
  assert.match(formatParamTable(model), /layer4\.1\.conv2 +\[4,512,3,3\] +\[512,4,1,1\] +20992/);
});

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');

test(
  'DoRA on the ONNX MobileNetV2 (no BatchNorm left to unfold): the first step is finite despite its all-zero channel, a train step gives every magnitude a gradient, and merging keeps the logits',
  { skip: mobilenet.skip },
  async () => {
    const backbone = await loadOnnxBackbone(mobilenet.path, { imageSize: [96, 96] });
    const model = addLora(
      backbone,
      { r: 2, alpha: 4, targets: defaultTargets(backbone), dora: true },
      { seed: 1 },
    );
    const rng = new Rng(2);
    const input = f32([2, 3, 96, 96], rng.uniformArray(2 * 3 * 96 * 96, -2, 2));
    // expanded_conv_11/expand has an output channel of zeros, so m = n = 0 there at the start (peft#2049).
    const dead = model.params.get('MobilenetV2/expanded_conv_11/expand.lora_magnitude_vector')!.data;
    assert.ok(dead.some((v) => v === 0));
    const step = await TrainStep.compile(model, { threads: 2 });
    const start = await step.run(input, [0, 1]);
    assert.ok(Number.isFinite(start.loss), `first loss ${start.loss}`);
    assert.ok(step.params.every((p) => p.grad.every(Number.isFinite)));
    // Written in place, so the compiled step runs with these B.
    for (const s of model.sites)
      model.params.get(s.b)!.data.set(rng.uniformArray(s.shapeB[0] * s.shapeB[1], -0.05, 0.05));
    const { loss } = await step.run(input, [0, 1]);
    assert.ok(Number.isFinite(loss));
    for (const p of step.params.filter((q) => q.name.endsWith('.lora_magnitude_vector')))
      assert.ok(p.grad.every(Number.isFinite) && p.grad.some((v) => v !== 0), p.name);
    await step.release();
    const adapted = await (await ForwardStep.compile(model)).run(input);
    const plain = (await (await Session.create(mergeLora(model))).run({ input })).logits.data as Float32Array;
    assert.ok(relErr(plain, adapted) < 1e-4, `merged vs adapted: ${relErr(plain, adapted)}`);
  },
);

test("adapter_config.json round-trips use_dora, and the magnitude is saved under PEFT's key and shape", async () => {
  const c = cases[0];
  const model = caseModel(c);
  const dir = mkdtempSync(join(tmpdir(), 'dora-'));
  await saveAdapter(dir, model);
  const config = await readAdapterConfig(dir);
  assert.equal(config.use_dora, true);
  assert.deepEqual(loraConfigOf(config), {
    r: c.r,
    alpha: c.alpha,
    targets: ['conv'],
    rslora: false,
    dora: true,
  });
  const { tensors } = await loadSafetensors(join(dir, ADAPTER_WEIGHTS));
  assert.deepEqual(tensors.get('base_model.model.conv.lora_magnitude_vector')?.shape, [1, 4, 1, 1]);
  const reloaded = addLora(caseBackbone(c), loraConfigOf(config));
  await loadAdapterWeights(dir, reloaded);
  for (const [name, t] of model.params) assert.deepEqual(reloaded.params.get(name)!.data, t.data, name);

  // Without DoRA the file is as before: no use_dora key, no magnitude.
  const plainDir = mkdtempSync(join(tmpdir(), 'lora-'));
  await saveAdapter(plainDir, addLora(caseBackbone(c), { r: c.r, alpha: c.alpha, targets: ['conv'] }));
  assert.ok(!('use_dora' in JSON.parse(readFileSync(join(plainDir, ADAPTER_CONFIG), 'utf8'))));
  assert.ok(!(await readAdapterConfig(plainDir)).use_dora);
});

test('DoRA refuses a target whose folded BatchNorm scale is 0, naming it', () => {
  const c = cases[0];
  const backbone = caseBackbone(c);
  backbone.bnScales.get('conv')![2] = 0;
  assert.throws(
    () => addLora(backbone, { r: c.r, alpha: c.alpha, targets: ['conv'], dora: true }),
    /--dora: target 'conv' has a BatchNorm scale of 0 in output channel 2/,
  );
});
