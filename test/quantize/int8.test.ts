import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { attr, Graph } from '../../src/graph/ir.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { f32, i64 } from '../../src/graph/tensor.js';
import { calibrate } from '../../src/quantize/calibrate.js';
import { toInt8 } from '../../src/quantize/int8.js';
import { planQdq } from '../../src/quantize/placement.js';
import { activationParams, quantizeBias, quantizeWeights } from '../../src/quantize/quant-params.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { sharedPath } from '../helpers/shared.js';
import {
  argmaxRows,
  loadImages,
  mergedResNet18,
  optimizedOps,
  randomImages,
  relMaxDiff,
  run,
  runWeb,
} from './fixtures.js';

/** input -> Conv -> Relu -> out: a value with negative (conv) and one with clamped (relu) values. */
function convRelu(): Graph {
  const g = new Graph();
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 2, 5, 5] });
  const w = g.constant(
    f32(
      [3, 2, 3, 3],
      Array.from({ length: 54 }, (_, i) => Math.sin(i)),
    ),
  );
  g.add('Conv', ['input', w], { outputs: ['conv'], attrs: { pads: attr.ints([1, 1, 1, 1]) } });
  g.add('Relu', ['conv'], { outputs: ['out'] });
  g.outputs.push({ name: 'out', dtype: 'float32', shape: ['N', 3, 5, 5] });
  return g;
}

test('calibration ranges are the exact extremes and percentile cut points of the values, however batched', async () => {
  const g = convRelu();
  const rng = new Rng(11);
  const x = Float32Array.from({ length: 7 * 2 * 25 }, () => rng.normal());
  const batches = [f32([4, 2, 5, 5], x.subarray(0, 200)), f32([3, 2, 5, 5], x.subarray(200))];
  const s = await Session.create(toOnnxBytes(g, { untypedOutputs: ['conv'] }));
  const all = await s.run({ input: f32([7, 2, 5, 5], x) });
  await s.release();
  const sorted = (name: string) => Float32Array.from(all[name].data as Float32Array).sort();
  const values = ['input', 'conv', 'out'];

  const minmax = await calibrate(g, values, batches, { chunk: 3 });
  for (const v of values) {
    const s = v === 'input' ? Float32Array.from(x).sort() : sorted(v);
    assert.deepEqual(minmax.get(v), { min: s[0], max: s[s.length - 1] }, v);
  }
  // 97%: cut 1.5% of 525 conv values at each end, round(7.875) = 8, so the cut points are the 8th from each end.
  async function* stream() {
    yield* batches;
  }
  const pct = await calibrate(g, ['conv'], stream(), { method: 'percentile', percentile: 97, chunk: 2 });
  const c = sorted('conv');
  assert.deepEqual(pct.get('conv'), { min: c[7], max: c[c.length - 8] });
});

test('quantization parameters follow ORT’s quantizer: uint8 asymmetric activations, int8 symmetric weights', () => {
  assert.deepEqual(activationParams({ min: -1, max: 1 }), { scale: Math.fround(2 / 255), zeroPoint: 128 });
  assert.deepEqual(activationParams({ min: 0.5, max: 6 }), { scale: Math.fround(6 / 255), zeroPoint: 0 });
  assert.deepEqual(activationParams({ min: -3, max: -1 }), { scale: Math.fround(3 / 255), zeroPoint: 255 });
  assert.deepEqual(activationParams({ min: 0, max: 0 }), { scale: 1, zeroPoint: 0 });
  const w = quantizeWeights(f32([2, 3], [0.5, -1.27, 0.01, 0, 0, 0]));
  assert.deepEqual([...w.scales], [Math.fround(0.01), 1]);
  assert.deepEqual([...w.q.data], [50, -127, 1, 0, 0, 0]);
  const b = quantizeBias(f32([2], [0.3, -1]), 0.5, w.scales);
  assert.deepEqual([...b.q.data], [60, -2]);
});

const RESNET18_CONVS = 20;
const RESNET18_ADDS = 8;

test('int8 quantizes a float Add and not the shape arithmetic a torch export does with Add', () => {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 4, 2, 2] });
  const twice = g.op('Add', ['x', g.op('Relu', ['x'])], {}, 'float_add');
  // The channel count from the shape, plus a Constant node's 1 and an initializer's 1, cast and added.
  const channels = g.op('Gather', [g.op('Shape', ['x']), g.constant(i64([1], [1]))]);
  const one = g.op('Constant', [], { value: attr.tensor(i64([1], [1])) });
  const sum = g.op(
    'Add',
    [g.op('Add', [channels, one], {}, 'int_add'), g.op('Cast', [one], { to: attr.int(7) })],
    {},
    'cast_add',
  );
  g.add('Reshape', [twice, g.op('Concat', [g.constant(i64([1], [-1])), sum], { axis: attr.int(0) })], {
    outputs: ['y'],
  });
  g.outputs = [{ name: 'y', dtype: 'float32', shape: ['N', 16] }];
  assert.deepEqual([...planQdq(g).nodes], ['float_add']);
});

test('int8 ResNet-18: QDQ pairs that ORT fuses into integer kernels, in onnxruntime-node and -web', async () => {
  const g = mergedResNet18();
  const q = await toInt8(toOnnxBytes(g), [randomImages(12, 5)], { threads: 1 });
  const plan = planQdq(g);
  assert.equal(q.nodes.filter((n) => n.op === 'QuantizeLinear').length, plan.values.length);
  assert.equal(q.nodes.filter((n) => n.op === 'Relu').length, 0, 'every Relu folds into a uint8 output');
  assert.equal(q.initializers.get(q.node('fc').inputs[1])?.dtype, 'float32', 'the head stays float');
  const conv = q.nodes.find((n) => n.name === 'layer1.0.conv1')!;
  assert.deepEqual(q.initializers.get(q.producers().get(conv.inputs[1])!.inputs[0])!.dtype, 'int8');
  assert.deepEqual(q.initializers.get(q.producers().get(conv.inputs[2])!.inputs[0])!.dtype, 'int32');

  const ops = await optimizedOps(q);
  assert.equal(ops['com.microsoft:QLinearConv'], RESNET18_CONVS);
  assert.equal(ops['com.microsoft:QLinearAdd'], RESNET18_ADDS);
  assert.equal(ops['com.microsoft:NhwcMaxPool'], 1, 'MaxPool runs on uint8');
  assert.equal(ops.Conv, undefined);
  assert.equal(ops.QuantizeLinear, 1, 'the image is quantized once');
  assert.equal(ops.DequantizeLinear, 1, 'and dequantized once, before the float pooling and head');

  const x = randomImages(4, 1);
  const [ref, int8] = [await run(g, x), await run(q, x)];
  // Measured: features 2.0e-2 and logits 5.8e-2 of their largest values (a random network's logits are
  // small differences of large features, so they carry the features' error magnified).
  assert.ok(
    relMaxDiff(int8.features, ref.features) < 0.05,
    `features ${relMaxDiff(int8.features, ref.features)}`,
  );
  assert.ok(relMaxDiff(int8.logits, ref.logits) < 0.15, `logits ${relMaxDiff(int8.logits, ref.logits)}`);
  // The wasm provider's integer kernels round QLinearAdd a little differently from x86's (1 LSB on a few
  // values of layer1.1, growing to a few LSB by layer4), so it agrees with node to quantization noise:
  // measured 2.5e-2 of the largest logit (and 6.6e-2 against float32).
  const web = await runWeb(q, x);
  assert.ok(relMaxDiff(web, int8.logits) < 0.05, `web ${relMaxDiff(web, int8.logits)}`);
  assert.ok(relMaxDiff(web, ref.logits) < 0.15, `web logits ${relMaxDiff(web, ref.logits)}`);
});

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224');
const training = sharedPath('data/smoking/Training/Training');
const MINUS_ONE_TO_ONE = {
  size: [224, 224] as [number, number],
  mean: [0.5, 0.5, 0.5] as [number, number, number],
  std: [0.5, 0.5, 0.5] as [number, number, number],
};

test(
  'int8 MobileNetV2 calibrated on 16 photos keeps the README images’ top-1 classes, in onnxruntime-node and -web',
  { skip: mobilenet.skip || training.skip },
  async () => {
    const file = join(mobilenet.path, 'model.onnx');
    const g = fromOnnxBytes(readFileSync(file), file);
    const photos = readdirSync(training.path)
      .sort()
      .filter((_, i) => i % 45 === 0)
      .slice(0, 16);
    const calibration = await loadImages(
      photos.map((f) => join(training.path, f)),
      MINUS_ONE_TO_ONE,
    );
    const q = await toInt8(g, [calibration], { threads: 1, method: 'percentile' });
    const ops = await optimizedOps(q);
    // 52 of the 53 convs: the classifier conv behind the logits stays float.
    assert.equal(ops['com.microsoft:QLinearConv'], 52);
    assert.equal(ops['com.microsoft:QLinearAdd'], 10);
    assert.equal(ops.Clip, undefined, 'every ReLU6 folds into a uint8 output');

    const x = await loadImages(
      ['bird.bmp', 'cat.bmp', 'grace_hopper.bmp', 'hot_dog.jpg'].map((f) =>
        join(mobilenet.path, 'testimg', f),
      ),
      MINUS_ONE_TO_ONE,
    );
    const fp32 = (await run(g, x)).logits;
    const ref = argmaxRows(fp32, 1001);
    const int8 = (await run(q, x)).logits;
    const web = await runWeb(q, x);
    assert.deepEqual(argmaxRows(int8, 1001), ref);
    assert.deepEqual(argmaxRows(web, 1001), ref);
    // Measured: 0.11 of the largest logit of 1001 (int8 vs float32), 0.015 (web vs node).
    assert.ok(relMaxDiff(int8, fp32) < 0.2, `int8 ${relMaxDiff(int8, fp32)}`);
    assert.ok(relMaxDiff(web, int8) < 0.05, `web ${relMaxDiff(web, int8)}`);
  },
);

test('int8 refuses models it cannot quantize, in one line', async () => {
  const g = convRelu();
  await assert.rejects(toInt8(g, []), /calibrate: no calibration images were given/);
  await assert.rejects(
    toInt8(g, [f32([1, 3, 5, 5])]),
    /calibrate: batch 0 is float32 \[1,3,5,5\]; the model takes float32 \[N,2,5,5\]/,
  );
  g.opset = 11;
  await assert.rejects(
    toInt8(g, [f32([1, 2, 5, 5])]),
    /int8: the model is opset 11; .* need opset 13 or later/,
  );
});
