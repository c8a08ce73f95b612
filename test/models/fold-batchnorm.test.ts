import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, Graph } from '../../src/graph/ir.js';
import { f32, floatToHalf, tensor } from '../../src/graph/tensor.js';
import { foldBatchNorm } from '../../src/models/fold-batchnorm.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';

const convAttrs = {
  kernel_shape: attr.ints([3, 3]),
  strides: attr.ints([2, 2]),
  pads: attr.ints([1, 1, 1, 1]),
};

async function runGraph(g: Graph, x: ReturnType<typeof f32>): Promise<Float32Array> {
  const s = await Session.create(g, { threads: 1 });
  try {
    return (await s.run({ x }, ['y'])).y.data as Float32Array;
  } finally {
    await s.release();
  }
}

test("folding BatchNorm into the conv reproduces ONNX's eval-mode BatchNormalization within 1e-5", async () => {
  const rng = new Rng(7);
  const [outC, inC] = [6, 4];
  const w = f32([outC, inC, 3, 3], rng.uniformArray(outC * inC * 9, -0.5, 0.5));
  const bn = {
    weight: f32([outC], rng.uniformArray(outC, 0.5, 1.5)),
    bias: f32([outC], rng.uniformArray(outC, -0.5, 0.5)),
    runningMean: f32([outC], rng.uniformArray(outC, -0.3, 0.3)),
    runningVar: f32([outC], rng.uniformArray(outC, 0.2, 2)),
  };
  const x = f32([2, inC, 9, 9], rng.uniformArray(2 * inC * 81, -1, 1));

  const ref = new Graph();
  ref.inputs.push({ name: 'x', dtype: 'float32', shape: [2, inC, 9, 9] });
  ref.initializers.set('w', w);
  for (const [k, t] of Object.entries(bn)) ref.initializers.set(k, t);
  const c = ref.op('Conv', ['x', 'w'], convAttrs);
  ref.add('BatchNormalization', [c, 'weight', 'bias', 'runningMean', 'runningVar'], {
    outputs: ['y'],
    attrs: { epsilon: attr.float(1e-5) },
  });
  ref.outputs.push({ name: 'y', dtype: 'float32', shape: [2, outC, 5, 5] });

  const folded = foldBatchNorm(w, bn);
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, inC, 9, 9] });
  g.initializers.set('w', folded.weight);
  g.initializers.set('b', folded.bias);
  g.add('Conv', ['x', 'w', 'b'], { outputs: ['y'], attrs: convAttrs });
  g.outputs.push({ name: 'y', dtype: 'float32', shape: [2, outC, 5, 5] });

  const [want, got] = [await runGraph(ref, x), await runGraph(g, x)];
  const maxErr = Math.max(...want.map((v, i) => Math.abs(v - got[i])));
  assert.ok(maxErr < 1e-5, `max |BN(conv) - folded conv| = ${maxErr}`);
});

test('half-precision BatchNorm tensors are widened before folding', () => {
  const half = (v: number[]) => tensor('float16', [v.length], Uint16Array.from(v.map(floatToHalf)));
  const { weight, bias } = foldBatchNorm(f32([2, 1, 1, 1], [1, 2]), {
    weight: half([2, 1]),
    bias: half([0.5, -1]),
    runningMean: half([1, 0]),
    runningVar: half([3, 0.25]),
  });
  // channel 0: scale 2/√(3+1e-5); channel 1: scale 1/√(0.25+1e-5).
  const s0 = 2 / Math.sqrt(3 + 1e-5);
  const s1 = 1 / Math.sqrt(0.25 + 1e-5);
  assert.deepEqual([...weight.data], [Math.fround(s0), Math.fround(2 * s1)]);
  assert.deepEqual([...bias.data], [Math.fround(0.5 - s0), Math.fround(-1)]);
});
