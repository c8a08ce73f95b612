import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { attr, Graph } from '../../src/graph/ir.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { f32 } from '../../src/graph/tensor.js';
import { Session } from '../../src/runtime/session.js';
import { sharedPath } from '../helpers/shared.js';
import { everyAttributeGraph } from './every-attribute.js';

test('an emitted graph runs in ONNX Runtime and computes the right numbers', async () => {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['N', 1, 3, 3] });
  const w = g.constant(f32([1, 1, 2, 2], [1, 2, 3, 4]), 'w');
  const y = g.op('Conv', ['x', w], { kernel_shape: attr.ints([2, 2]) });
  const z = g.op('Mul', [y, g.constant(f32([], [0.5]))]);
  g.add('Identity', [z], { outputs: ['out'] });
  g.outputs.push({ name: 'out', dtype: 'float32', shape: ['N', 1, 2, 2] });
  const s = await Session.create(g);
  const { out } = await s.run({ x: f32([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]) });
  // [1 2;4 5]·[1 2;3 4] = 1+4+12+20 = 37, then halved.
  assert.deepEqual(out.shape, [1, 1, 2, 2]);
  assert.deepEqual([...out.data], [18.5, 23.5, 33.5, 38.5]);
});

test('attributes and initializers of every kind survive export and import', () => {
  const g = everyAttributeGraph();
  const back = fromOnnxBytes(toOnnxBytes(g));
  assert.deepEqual(back.nodes, g.nodes);
  assert.deepEqual(back.inputs, g.inputs);
  assert.deepEqual([...(back.initializers.get('shape')?.data ?? [])], [-1n, 2n]);
});

test('a non-ONNX file is rejected with its name', () => {
  assert.throws(
    () => fromOnnxBytes(new TextEncoder().encode('hello world, not a model'), 'bad.onnx'),
    /bad\.onnx: not a valid ONNX file/,
  );
});

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');
test(
  'the shared MobileNetV2 imports and re-exports to a model that runs',
  { skip: mobilenet.skip },
  async () => {
    const g = fromOnnxBytes(readFileSync(mobilenet.path), mobilenet.path);
    assert.equal(g.nodes.filter((n) => n.op === 'Conv').length, 53);
    const s = await Session.create(g);
    const { features, logits } = await s.run({ input: f32([2, 3, 224, 224]) });
    assert.deepEqual(features.shape, [2, 1280]);
    assert.deepEqual(logits.shape, [2, 1001]);
  },
);
