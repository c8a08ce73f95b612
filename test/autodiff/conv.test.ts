import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { appendBackward } from '../../src/autodiff/backward.js';
import { attr, type Attr, Graph } from '../../src/graph/ir.js';
import type { Tensor } from '../../src/graph/tensor.js';
import { probeShapes } from '../../src/runtime/probe-shapes.js';
import { Session } from '../../src/runtime/session.js';
import { gradCheck, randomInput } from '../helpers/grad-check.js';

interface ConvCase {
  x: number[];
  w: number[];
  strides?: number[];
  pads?: number[];
  group?: number;
  bias?: boolean;
  /** Inputs to differentiate; the others among W and B become initializers (frozen constants). */
  train: ('X' | 'W' | 'B')[];
}

function convAttrs(c: ConvCase): Record<string, Attr> {
  return {
    kernel_shape: attr.ints(c.w.slice(2)),
    strides: attr.ints(c.strides ?? [1, 1]),
    pads: attr.ints(c.pads ?? [0, 0, 0, 0]),
    group: attr.int(c.group ?? 1),
  };
}

/** Finite-difference check of one Conv; frozen W and B are initializers, as in a real model. */
async function checkConv(t: TestContext, c: ConvCase): Promise<void> {
  const values: Record<string, Tensor> = { X: randomInput(c.x, 1), W: randomInput(c.w, 2) };
  if (c.bias) values.B = randomInput([c.w[0]], 3);
  const inputs: Record<string, Tensor> = { X: values.X };
  for (const k of c.train) inputs[k] = values[k];
  const worst = await gradCheck(
    (g) => {
      const operand = (k: 'W' | 'B') => (c.train.includes(k) ? k : g.constant(values[k], k));
      const ins = ['X', operand('W'), ...(c.bias ? [operand('B')] : [])];
      return g.op('Conv', ins, convAttrs(c));
    },
    { inputs, wrt: c.train },
  );
  t.diagnostic(`worst FD error ${JSON.stringify(worst)}`);
}

const cases: [string, ConvCase][] = [
  ['dX, frozen 3x3, stride 1, pad 1', { x: [2, 3, 5, 5], w: [4, 3, 3, 3], pads: [1, 1, 1, 1], train: ['X'] }],
  [
    'dX, frozen 3x3, stride 1, asymmetric pads',
    { x: [2, 3, 6, 5], w: [4, 3, 3, 3], pads: [0, 0, 1, 1], train: ['X'] },
  ],
  [
    'dX, frozen 3x3, stride 2, pad 1, exact fit',
    { x: [2, 3, 7, 7], w: [4, 3, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1], train: ['X'] },
  ],
  [
    'dX, frozen 3x3, stride 2, pad 1, odd fit',
    { x: [2, 3, 6, 7], w: [4, 3, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1], train: ['X'] },
  ],
  [
    'dX, frozen 7x7, stride 2, pad 3',
    { x: [2, 3, 8, 7], w: [2, 3, 7, 7], strides: [2, 2], pads: [3, 3, 3, 3], train: ['X'] },
  ],
  ['dX, frozen 1x1, stride 1', { x: [2, 3, 4, 5], w: [4, 3, 1, 1], train: ['X'] }],
  ['dX, frozen 1x1, stride 2, odd size', { x: [2, 3, 7, 6], w: [4, 3, 1, 1], strides: [2, 2], train: ['X'] }],
  [
    'dX, frozen 1x1 with pad 1 (pad > k-1)',
    { x: [2, 3, 4, 4], w: [2, 3, 1, 1], pads: [1, 1, 1, 1], train: ['X'] },
  ],
  [
    'dX, frozen grouped (g=2), stride 1',
    { x: [2, 4, 5, 5], w: [4, 2, 3, 3], pads: [1, 1, 1, 1], group: 2, train: ['X'] },
  ],
  [
    'dX, frozen grouped (g=2), stride 2',
    { x: [2, 4, 6, 5], w: [6, 2, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1], group: 2, train: ['X'] },
  ],
  [
    'dX, frozen depthwise, stride 1',
    { x: [2, 4, 5, 5], w: [4, 1, 3, 3], pads: [1, 1, 1, 1], group: 4, train: ['X'] },
  ],
  [
    'dX, frozen depthwise, stride 2, SAME-style pads, odd fit',
    { x: [2, 4, 7, 7], w: [4, 1, 3, 3], strides: [2, 2], pads: [0, 0, 1, 1], group: 4, train: ['X'] },
  ],
  [
    'dX, frozen depthwise, stride 2, SAME-style pads, exact fit',
    { x: [2, 4, 6, 6], w: [4, 1, 3, 3], strides: [2, 2], pads: [0, 0, 1, 1], group: 4, train: ['X'] },
  ],
  ['dW only, 3x3, stride 1, pad 1', { x: [2, 3, 5, 5], w: [4, 3, 3, 3], pads: [1, 1, 1, 1], train: ['W'] }],
  [
    'dW only, 3x3, stride 1, asymmetric pads',
    { x: [2, 3, 6, 5], w: [4, 3, 3, 3], pads: [0, 0, 1, 1], train: ['W'] },
  ],
  ['dW only, 3x3, stride 1, no pads', { x: [2, 3, 5, 6], w: [2, 3, 3, 3], train: ['W'] }],
  [
    'dW only, 3x3, stride 2, pad 1, exact fit',
    { x: [2, 3, 7, 7], w: [4, 3, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1], train: ['W'] },
  ],
  [
    'dW only, 3x3, stride 2, pad 1, odd fit',
    { x: [2, 3, 6, 6], w: [4, 3, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1], train: ['W'] },
  ],
  [
    'dW only, 3x3, stride 2, end pad smaller than the remainder',
    { x: [2, 3, 7, 6], w: [4, 3, 3, 3], strides: [2, 2], pads: [1, 1, 0, 0], train: ['W'] },
  ],
  [
    'dW only, 7x7, stride 2, pad 3',
    { x: [2, 3, 8, 7], w: [2, 3, 7, 7], strides: [2, 2], pads: [3, 3, 3, 3], train: ['W'] },
  ],
  ['dW only, 1x1, stride 1', { x: [2, 4, 5, 3], w: [3, 4, 1, 1], train: ['W'] }],
  ['dW only, 1x1, stride 2, odd size', { x: [2, 4, 7, 6], w: [3, 4, 1, 1], strides: [2, 2], train: ['W'] }],
  ['dW only, 1x1 with pad 1', { x: [2, 3, 4, 4], w: [2, 3, 1, 1], pads: [1, 1, 1, 1], train: ['W'] }],
  ['dW only, 1x1 grouped (g=2)', { x: [2, 4, 3, 3], w: [6, 2, 1, 1], group: 2, train: ['W'] }],
  [
    'dW only, grouped (g=2), stride 1',
    { x: [2, 4, 5, 5], w: [6, 2, 3, 3], pads: [1, 1, 1, 1], group: 2, train: ['W'] },
  ],
  [
    'dW only, depthwise, stride 1',
    { x: [2, 4, 5, 5], w: [4, 1, 3, 3], pads: [1, 1, 1, 1], group: 4, train: ['W'] },
  ],
  [
    'dW only, depthwise, stride 2, SAME-style pads, odd fit',
    { x: [2, 4, 7, 7], w: [4, 1, 3, 3], strides: [2, 2], pads: [0, 0, 1, 1], group: 4, train: ['W'] },
  ],
  ['dB only, frozen W', { x: [2, 3, 5, 5], w: [4, 3, 3, 3], pads: [1, 1, 1, 1], bias: true, train: ['B'] }],
  [
    'dX, dW, dB, trainable 3x3, stride 1 (graph-op flip)',
    { x: [2, 3, 5, 5], w: [4, 3, 3, 3], pads: [1, 1, 1, 1], bias: true, train: ['X', 'W', 'B'] },
  ],
  [
    'dX, dW, trainable 3x3, stride 2, odd fit',
    { x: [2, 3, 6, 7], w: [4, 3, 3, 3], strides: [2, 2], pads: [1, 1, 1, 1], train: ['X', 'W'] },
  ],
  [
    'dX, dW, trainable grouped (g=2), stride 1, asymmetric pads',
    { x: [2, 4, 6, 5], w: [4, 2, 3, 3], pads: [0, 0, 1, 1], group: 2, train: ['X', 'W'] },
  ],
  [
    'dX, dW, dB, trainable depthwise, stride 2, SAME-style pads',
    {
      x: [2, 4, 7, 6],
      w: [4, 1, 3, 3],
      strides: [2, 2],
      pads: [0, 0, 1, 1],
      group: 4,
      bias: true,
      train: ['X', 'W', 'B'],
    },
  ],
  ['dX, dW, trainable 1x1, stride 1 (LoRA-B shape)', { x: [2, 2, 4, 4], w: [4, 2, 1, 1], train: ['X', 'W'] }],
];

for (const [name, c] of cases) test(`Conv ${name}`, (t) => checkConv(t, c));

/** Appends the backward of a single Conv with input 'X' (symbolic batch) and returns the graph and its gradients. */
async function convBackward(c: ConvCase): Promise<{ g: Graph; grads: Map<string, string> }> {
  const g = new Graph();
  g.inputs.push({ name: 'X', dtype: 'float32', shape: ['N', ...c.x.slice(1)] });
  for (const k of c.train.filter((k) => k !== 'X'))
    g.inputs.push({ name: k, dtype: 'float32', shape: k === 'W' ? c.w : [c.w[0]] });
  const w = c.train.includes('W') ? 'W' : g.constant(randomInput(c.w, 2), 'W');
  const y = g.op('Conv', ['X', w, ...(c.bias ? ['B'] : [])], convAttrs(c), 'conv');
  const loss = g.op('ReduceSum', [y], { keepdims: attr.int(0) });
  g.outputs = [{ name: loss, dtype: 'float32', shape: [] }];
  const grads = appendBackward(g, { loss, wrt: c.train, shapes: await probeShapes(g) });
  return { g, grads };
}

test('the dX of a frozen stride-1 conv is a plain Conv with a precomputed transposed, flipped kernel', async () => {
  const { g, grads } = await convBackward({
    x: [2, 3, 5, 5],
    w: [4, 3, 3, 3],
    pads: [0, 0, 1, 1],
    train: ['X'],
  });
  const backward = g.nodes.filter((n) => n.name.startsWith('grad.conv.'));
  assert.deepEqual(
    backward.map((n) => n.op),
    ['Conv'],
  );
  const wT = g.initializers.get(backward[0].inputs[1]);
  assert.deepEqual(wT?.shape, [3, 4, 3, 3]);
  assert.deepEqual(backward[0].attrs.pads, attr.ints([2, 2, 1, 1]));
  assert.equal(grads.get('X'), backward[0].outputs[0]);
});

test('conv gradients run with a symbolic batch and match across batch sizes', async () => {
  const variants: ConvCase[] = [
    { x: [2, 4, 5, 5], w: [4, 2, 3, 3], pads: [1, 1, 1, 1], group: 2, bias: true, train: ['X', 'W', 'B'] },
    { x: [2, 4, 7, 6], w: [4, 1, 3, 3], strides: [2, 2], pads: [0, 0, 1, 1], group: 4, train: ['X', 'W'] },
    { x: [2, 4, 7, 6], w: [3, 4, 1, 1], strides: [2, 2], train: ['X', 'W'] },
  ];
  for (const c of variants) {
    const { g, grads } = await convBackward(c);
    const shapeOf = (k: string) => (k === 'X' ? ['N', ...c.x.slice(1)] : k === 'W' ? c.w : [c.w[0]]);
    g.outputs = c.train.map((k) => ({ name: grads.get(k)!, dtype: 'float32' as const, shape: shapeOf(k) }));
    const s = await Session.create(g);
    const feeds = (x: Tensor): Record<string, Tensor> => ({
      X: x,
      ...(c.train.includes('W') ? { W: randomInput(c.w, 2) } : {}),
      ...(c.train.includes('B') ? { B: randomInput([c.w[0]], 3) } : {}),
    });
    const x2 = randomInput(c.x, 1);
    const x1 = { ...x2, shape: [1, ...c.x.slice(1)], data: x2.data.slice(0, x2.data.length / 2) };
    const [one, two] = [await s.run(feeds(x1)), await s.run(feeds(x2))];
    const dX = grads.get('X')!;
    assert.deepEqual(two[dX].shape, c.x);
    if (c.train.includes('W')) assert.deepEqual(two[grads.get('W')!].shape, c.w);
    // The sum loss makes dX independent of X, so image 0 gets the same dX at batch 1 and 2.
    for (let i = 0; i < one[dX].data.length; i++)
      assert.ok(Math.abs(Number(one[dX].data[i]) - Number(two[dX].data[i])) < 1e-5);
  }
});

test('unsupported conv attributes are rejected with a clear error', async () => {
  const build = (extra: Record<string, Attr>) => {
    const g = new Graph();
    g.inputs.push(
      { name: 'X', dtype: 'float32', shape: [1, 1, 5, 5] },
      { name: 'W', dtype: 'float32', shape: [1, 1, 3, 3] },
    );
    const y = g.op('Conv', ['X', 'W'], extra, 'c');
    const shapes = new Map<string, (string | number)[]>([
      ['X', [1, 1, 5, 5]],
      ['W', [1, 1, 3, 3]],
      [y, [1, 1, 1, 1]],
    ]);
    return () => appendBackward(g, { loss: y, wrt: ['W'], shapes });
  };
  assert.throws(
    build({ dilations: attr.ints([2, 2]) }),
    /Conv 'c' has dilations \[2,2\]; only dilation 1 is supported/,
  );
  assert.throws(
    build({ auto_pad: attr.string('SAME_UPPER') }),
    /Conv 'c' has auto_pad=SAME_UPPER; only NOTSET/,
  );
});
