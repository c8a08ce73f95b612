import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { appendBackward } from '../../src/autodiff/backward.js';
import { attr, type Attr, Graph } from '../../src/graph/ir.js';
import { f32, type Tensor } from '../../src/graph/tensor.js';
import { Rng } from '../../src/random/rng.js';
import { probeShapes } from '../../src/runtime/probe-shapes.js';
import { Session } from '../../src/runtime/session.js';
import { gradCheck, randomInput } from '../helpers/grad-check.js';

interface PoolCase {
  x: number[];
  kernel: number[];
  strides?: number[];
  pads?: number[];
  countIncludePad?: number;
  ceilMode?: number;
}

function poolAttrs(op: string, c: PoolCase): Record<string, Attr> {
  return {
    kernel_shape: attr.ints(c.kernel),
    strides: attr.ints(c.strides ?? [1, 1]),
    pads: attr.ints(c.pads ?? [0, 0, 0, 0]),
    ...(op === 'AveragePool' ? { count_include_pad: attr.int(c.countIncludePad ?? 0) } : {}),
    ...(c.ceilMode ? { ceil_mode: attr.int(c.ceilMode) } : {}),
  };
}

/** Distinct values 0.05 apart in random order, so a ±1e-2 nudge never changes which element wins a window. */
function untiedInput(shape: number[], seed: number): Tensor<'float32'> {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Rng(seed).shuffle(Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05));
  return f32(shape, values);
}

async function checkPool(t: TestContext, op: string, c: PoolCase, opset?: number): Promise<void> {
  const x = op === 'MaxPool' ? untiedInput(c.x, 1) : randomInput(c.x, 1);
  const worst = await gradCheck((g) => g.op(op, ['X'], poolAttrs(op, c)), { inputs: { X: x }, opset });
  t.diagnostic(`worst FD error ${JSON.stringify(worst)}`);
}

test('GlobalAveragePool', async (t) => {
  const worst = await gradCheck((g) => g.op('GlobalAveragePool', ['X']), {
    inputs: { X: randomInput([2, 3, 5, 4], 1) },
  });
  t.diagnostic(`worst FD error ${JSON.stringify(worst)}`);
});

const averageCases: [string, PoolCase][] = [
  ['2x2, stride 2, odd size', { x: [2, 3, 5, 7], kernel: [2, 2], strides: [2, 2] }],
  [
    '3x3, stride 2, pad 1, count_include_pad=1',
    { x: [2, 3, 7, 6], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], countIncludePad: 1 },
  ],
  [
    '3x3, stride 2, pad 1, count_include_pad=0',
    { x: [2, 3, 6, 7], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  ],
  ['3x3, stride 1, pad 1, count_include_pad=0', { x: [2, 3, 5, 5], kernel: [3, 3], pads: [1, 1, 1, 1] }],
  [
    '3x3, stride 1, pad 1, count_include_pad=1',
    { x: [2, 3, 5, 4], kernel: [3, 3], pads: [1, 1, 1, 1], countIncludePad: 1 },
  ],
  [
    '3x3, stride 2, asymmetric pads, count_include_pad=0',
    { x: [2, 3, 7, 6], kernel: [3, 3], strides: [2, 2], pads: [0, 0, 1, 1] },
  ],
  [
    '3x3, stride 2, asymmetric pads, count_include_pad=1',
    { x: [2, 3, 7, 6], kernel: [3, 3], strides: [2, 2], pads: [0, 0, 1, 1], countIncludePad: 1 },
  ],
];
for (const [name, c] of averageCases) test(`AveragePool ${name}`, (t) => checkPool(t, 'AveragePool', c));

const maxCases: [string, PoolCase][] = [
  [
    '3x3, stride 2, pad 1 (ResNet stem), exact fit',
    { x: [2, 3, 7, 7], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  ],
  [
    '3x3, stride 2, pad 1 (ResNet stem), odd fit',
    { x: [2, 3, 6, 7], kernel: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
  ],
  ['2x2, stride 2, odd size', { x: [2, 3, 5, 5], kernel: [2, 2], strides: [2, 2] }],
  ['3x3, stride 1, pad 1 (heavy overlap)', { x: [2, 2, 5, 5], kernel: [3, 3], pads: [1, 1, 1, 1] }],
  [
    '3x3, stride 2, asymmetric pads',
    { x: [2, 2, 7, 6], kernel: [3, 3], strides: [2, 2], pads: [0, 0, 1, 1] },
  ],
  ['2x2, stride 2, ceil_mode=1, odd size', { x: [2, 2, 5, 6], kernel: [2, 2], strides: [2, 2], ceilMode: 1 }],
];
for (const [name, c] of maxCases) test(`MaxPool ${name}`, (t) => checkPool(t, 'MaxPool', c));

// ScatterElements' reduction, which overlapping windows need, is opset 16; the shared MobileNetV2 is opset 13.
const disjointCases: [string, PoolCase][] = [
  ['global (one window)', { x: [2, 3, 4, 5], kernel: [4, 5] }],
  ['2x2, stride 2', { x: [2, 3, 4, 6], kernel: [2, 2], strides: [2, 2] }],
];
for (const [name, c] of disjointCases)
  test(`MaxPool ${name} in an opset-13 graph`, (t) => checkPool(t, 'MaxPool', c, 13));

test('MaxPool with overlapping windows in an opset-13 graph is refused in one line', async () => {
  const c: PoolCase = { x: [1, 1, 5, 5], kernel: [3, 3], strides: [2, 2] };
  await assert.rejects(
    gradCheck((g) => g.op('MaxPool', ['X'], poolAttrs('MaxPool', c), 'stem'), {
      inputs: { X: untiedInput(c.x, 1) },
      opset: 13,
    }),
    /MaxPool 'stem' has overlapping windows, .* needs ScatterElements with reduction \(opset 16\), and the model is opset 13; export it at opset 16 or later$/,
  );
});

test('MaxPool gradient runs with a symbolic batch and sums over windows that share a winner', async () => {
  const g = new Graph();
  g.inputs.push({ name: 'X', dtype: 'float32', shape: ['N', 1, 3, 3] });
  const y = g.op('MaxPool', ['X'], poolAttrs('MaxPool', { x: [], kernel: [2, 2] }));
  const loss = g.op('ReduceSum', [y], { keepdims: attr.int(0) });
  g.outputs = [{ name: loss, dtype: 'float32', shape: [] }];
  const dX = appendBackward(g, { loss, wrt: ['X'], shapes: await probeShapes(g) }).get('X')!;
  g.outputs = [{ name: dX, dtype: 'float32', shape: ['N', 1, 3, 3] }];
  const s = await Session.create(g);
  // The centre wins all four 2x2 windows of the first image; the second image's winners are its corners.
  const x = f32([2, 1, 3, 3], [0, 1, 2, 3, 9, 4, 5, 6, 7, 9, 1, 8, 2, 0, 3, 7, 4, 6]);
  const out = await s.run({ X: x });
  assert.deepEqual([...out[dX].data], [0, 0, 0, 0, 4, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1]);
});

test('unsupported pool attributes are rejected with a clear error', () => {
  const build = (op: string, extra: Record<string, Attr>) => {
    const g = new Graph();
    g.inputs.push({ name: 'X', dtype: 'float32', shape: [1, 1, 2, 2] });
    const y = g.op(op, ['X'], { kernel_shape: attr.ints([2, 2]), ...extra }, 'p');
    const shapes = new Map<string, (string | number)[]>([
      ['X', [1, 1, 2, 2]],
      [y, [1, 1, 1, 1]],
    ]);
    return () => appendBackward(g, { loss: y, wrt: ['X'], shapes });
  };
  assert.throws(
    build('AveragePool', { ceil_mode: attr.int(1) }),
    /AveragePool 'p' has ceil_mode=1; only 0 is supported/,
  );
  assert.throws(
    build('AveragePool', { auto_pad: attr.string('SAME_UPPER') }),
    /auto_pad=SAME_UPPER; only NOTSET/,
  );
  assert.throws(build('MaxPool', { storage_order: attr.int(1) }), /MaxPool 'p' has storage_order=1/);
});
