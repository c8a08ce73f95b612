import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { attr, Graph } from '../../src/graph/ir.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { f32, type Tensor } from '../../src/graph/tensor.js';
import { IMAGENET_PREPROCESS } from '../../src/models/backbone.js';
import { loadOnnxBackbone } from '../../src/models/load-onnx-backbone.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { sharedPath } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'smoker-onnx-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const save = (name: string, g: Graph | Uint8Array | string) => {
  const path = join(dir, name);
  writeFileSync(path, g instanceof Graph ? toOnnxBytes(g) : g);
  return path;
};

async function run(g: Graph, feeds: Record<string, Tensor>, fetch: string[]) {
  const s = await Session.create(g, { threads: 1 });
  try {
    return await s.run(feeds, fetch);
  } finally {
    await s.release();
  }
}

/** x [N,3,8,8] -> Conv(3->5) -> Relu 'act' -> GAP -> Flatten 'pooled' -> Gemm(5->4) -> Softmax 'prob'. */
function tinyClassifier(): Graph {
  const rng = new Rng(1);
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['batch', 3, 8, 8] });
  g.initializers.set('w', f32([5, 3, 3, 3], rng.uniformArray(135, -1, 1)));
  g.initializers.set('fc.w', f32([4, 5], rng.uniformArray(20, -1, 1)));
  g.initializers.set('fc.b', f32([4], rng.uniformArray(4, -1, 1)));
  g.add('Conv', ['x', 'w'], { name: 'conv', outputs: ['conv'], attrs: { pads: attr.ints([1, 1, 1, 1]) } });
  g.add('Relu', ['conv'], { name: 'act', outputs: ['act'] });
  g.add('GlobalAveragePool', ['act'], { name: 'gap', outputs: ['gap'] });
  g.add('Flatten', ['gap'], { name: 'pooled', outputs: ['pooled'] });
  g.add('Gemm', ['pooled', 'fc.w', 'fc.b'], { name: 'fc', outputs: ['fc'], attrs: { transB: attr.int(1) } });
  g.add('Softmax', ['fc'], { name: 'prob', outputs: ['prob'] });
  g.outputs.push({ name: 'prob', dtype: 'float32', shape: ['batch', 4] });
  return g;
}

test("a classifier's Gemm input becomes 'features', its input 'input', and the head is pruned", async () => {
  const path = save('tiny.onnx', tinyClassifier());
  const b = await loadOnnxBackbone(path);
  assert.equal(b.name, path);
  assert.equal(b.featureDim, 5);
  assert.deepEqual(b.graph.inputs, [{ name: 'input', dtype: 'float32', shape: ['N', 3, 8, 8] }]);
  assert.deepEqual(b.graph.outputs, [{ name: 'features', dtype: 'float32', shape: ['N', 5] }]);
  assert.ok(!b.graph.nodes.some((n) => n.op === 'Gemm' || n.op === 'Softmax'));
  assert.ok(!b.graph.initializers.has('fc.w'));
  assert.equal(b.parameterCount, 135);
  assert.deepEqual(b.preprocess, { ...IMAGENET_PREPROCESS, size: [8, 8] });

  // Same numbers as the original graph's pooled value, at any batch size.
  const x = f32([3, 3, 8, 8], new Rng(2).uniformArray(3 * 192, -1, 1));
  const original = tinyClassifier();
  original.outputs.push({ name: 'pooled', dtype: 'float32', shape: ['batch', 5] });
  const want = (await run(original, { x }, ['pooled'])).pooled.data;
  const got = (await run(b.graph, { input: x }, ['features'])).features;
  assert.deepEqual(got.shape, [3, 5]);
  assert.deepEqual(got.data, want);
});

test('featureOutput picks any value; a 4-D map is pooled and flattened', async () => {
  const b = await loadOnnxBackbone(save('tiny2.onnx', tinyClassifier()), { featureOutput: 'act' });
  assert.equal(b.featureDim, 5);
  assert.deepEqual(
    b.graph.nodes.map((n) => n.op),
    ['Conv', 'Relu', 'GlobalAveragePool', 'Flatten'],
  );
  const preprocess = {
    size: [32, 32] as [number, number],
    mean: [0, 0, 0] as [number, number, number],
    std: [1, 1, 1] as [number, number, number],
  };
  assert.deepEqual(
    (await loadOnnxBackbone(save('tiny3.onnx', tinyClassifier()), { preprocess })).preprocess,
    preprocess,
  );
});

test("SqueezeNet's head, a 1x1 Conv behind ReLU and pooling, is found; a bare 1x1 Conv output is not a head", async () => {
  const rng = new Rng(3);
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['batch', 3, 8, 8] });
  g.initializers.set('w', f32([5, 3, 3, 3], rng.uniformArray(135, -1, 1)));
  g.initializers.set('cls.w', f32([4, 5, 1, 1], rng.uniformArray(20, -1, 1)));
  g.add('Conv', ['x', 'w'], { name: 'conv', outputs: ['act'], attrs: { pads: attr.ints([1, 1, 1, 1]) } });
  g.add('Conv', ['act', 'cls.w'], { name: 'cls', outputs: ['cls'] });
  g.add('Relu', ['cls'], { name: 'cls.relu', outputs: ['cls.relu'] });
  g.add('GlobalAveragePool', ['cls.relu'], { name: 'gap', outputs: ['gap'] });
  g.add('Flatten', ['gap'], { name: 'logits', outputs: ['logits'] });
  g.outputs.push({ name: 'logits', dtype: 'float32', shape: ['batch', 4] });
  const b = await loadOnnxBackbone(save('squeeze.onnx', g));
  assert.equal(b.featureDim, 5);
  assert.deepEqual(
    b.graph.nodes.map((n) => n.op),
    ['Conv', 'GlobalAveragePool', 'Flatten'],
  );

  g.outputs = [{ name: 'cls.relu', dtype: 'float32', shape: ['batch', 4, 8, 8] }];
  const bare = save('bare.onnx', g);
  await assert.rejects(loadOnnxBackbone(bare), {
    message: new RegExp(`^${bare}: cannot identify the feature output`),
  });
});

test('files that are not usable backbones fail with one clear line naming the file', async () => {
  const notOnnx = save('notes.onnx', 'just some text, not protobuf at all');
  await assert.rejects(loadOnnxBackbone(notOnnx), {
    message: new RegExp(`^${notOnnx}: not a valid ONNX file`),
  });

  const flat = new Graph();
  flat.inputs.push({ name: 'v', dtype: 'float32', shape: ['N', 10] });
  flat.add('Relu', ['v'], { outputs: ['y'] });
  flat.outputs.push({ name: 'y', dtype: 'float32', shape: ['N', 10] });
  const flatPath = save('flat.onnx', flat);
  await assert.rejects(loadOnnxBackbone(flatPath), {
    message: `${flatPath}: needs exactly one float32 NCHW image input [N,3,H,W]; inputs: v float32 [N,10]`,
  });

  const noHead = tinyClassifier();
  noHead.outputs = [{ name: 'act', dtype: 'float32', shape: ['batch', 5, 8, 8] }];
  const noHeadPath = save('nohead.onnx', noHead);
  await assert.rejects(loadOnnxBackbone(noHeadPath), {
    message: new RegExp(`^${noHeadPath}: cannot identify the feature output .*; pass featureOutput$`),
  });
  await assert.rejects(loadOnnxBackbone(noHeadPath, { featureOutput: 'nope' }), {
    message: `${noHeadPath}: no node computes 'nope', so it cannot be the feature output`,
  });
  await assert.rejects(loadOnnxBackbone(join(dir, 'absent.onnx')), {
    message: /absent\.onnx: cannot read \(ENOENT\)$/,
  });
});

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');
test(
  'the shared MobileNetV2 loads with its features output and [-1,1] preprocessing',
  { skip: mobilenet.skip },
  async () => {
    const b = await loadOnnxBackbone(mobilenet.path);
    assert.equal(b.featureDim, 1280);
    assert.deepEqual(b.preprocess, { size: [224, 224], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    assert.equal(
      b.graph.nodes.filter((n) => n.op === 'Conv').length,
      52,
      'the 1x1 classifier conv is pruned',
    );
    assert.deepEqual(b.graph.outputs, [{ name: 'features', dtype: 'float32', shape: ['N', 1280] }]);

    // Without its 'features' output (and under another name) the classifier rule finds the same value,
    // and the default normalisation is ImageNet's.
    const full = fromOnnxBytes(readFileSync(mobilenet.path));
    const logitsOnly = full.clone();
    logitsOnly.outputs = logitsOnly.outputs.filter((o) => o.name === 'logits');
    logitsOnly.prune();
    const other = await loadOnnxBackbone(save('some_cnn.onnx', logitsOnly));
    assert.equal(other.featureDim, 1280);
    assert.deepEqual(other.preprocess, IMAGENET_PREPROCESS);
    assert.equal(other.parameterCount, b.parameterCount);

    const x = f32([2, 3, 224, 224], new Rng(5).uniformArray(2 * 3 * 224 * 224, -1, 1));
    const want = (await run(full, { input: x }, ['features'])).features.data;
    assert.deepEqual((await run(b.graph, { input: x }, ['features'])).features.data, want);
    assert.deepEqual((await run(other.graph, { input: x }, ['features'])).features.data, want);
  },
);
