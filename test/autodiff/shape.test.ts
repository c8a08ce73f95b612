import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { appendBackward } from '../../src/autodiff/backward.js';
import { attr, type Attr, type Dim, Graph } from '../../src/graph/ir.js';
import { f32, i64 } from '../../src/graph/tensor.js';
import { gradCheck, randomInput, type GradCheckOptions } from '../helpers/grad-check.js';

async function check(t: TestContext, build: (g: Graph) => string, opts: GradCheckOptions) {
  t.diagnostic(`worst FD error ${JSON.stringify(await gradCheck(build, opts))}`);
}

const ints = (g: Graph, values: number[]) => g.constant(i64([values.length], values));

test('Flatten and Reshape', async (t) => {
  const inputs = { x: randomInput([2, 3, 2, 2], 1) };
  await check(t, (g) => g.op('Flatten', ['x'], { axis: attr.int(1) }), { inputs });
  await check(t, (g) => g.op('Reshape', ['x', ints(g, [4, -1])]), { inputs });
});

test('Squeeze and Unsqueeze', async (t) => {
  await check(t, (g) => g.op('Squeeze', ['x', ints(g, [1])]), { inputs: { x: randomInput([2, 1, 3], 2) } });
  await check(t, (g) => g.op('Unsqueeze', ['x', ints(g, [0, 2])]), { inputs: { x: randomInput([2, 3], 3) } });
});

test('Transpose, with a permutation and by default', async (t) => {
  const inputs = { x: randomInput([2, 3, 4, 2], 4) };
  await check(t, (g) => g.op('Transpose', ['x'], { perm: attr.ints([0, 2, 3, 1]) }), { inputs });
  await check(t, (g) => g.op('Transpose', ['x']), { inputs });
});

test('Concat splits the gradient back, skipping inputs that need none', async (t) => {
  const inputs = { a: randomInput([2, 1, 3], 5), b: randomInput([2, 3, 3], 6), c: randomInput([2, 2, 3], 7) };
  await check(t, (g) => g.op('Concat', ['a', 'b', 'c'], { axis: attr.int(1) }), { inputs });
  await check(t, (g) => g.op('Concat', ['a', 'b', 'c'], { axis: attr.int(-2) }), { inputs, wrt: ['b'] });
});

test('Flatten and Concat with a symbolic batch', async (t) => {
  await check(
    t,
    (g) => {
      for (const i of g.inputs) i.shape[0] = 'N';
      const joined = g.op('Concat', ['a', 'b'], { axis: attr.int(1) });
      return g.op('ReduceSum', [g.op('Flatten', [joined]), ints(g, [0])]);
    },
    { inputs: { a: randomInput([3, 1, 2], 8), b: randomInput([3, 2, 2], 9) } },
  );
});

test('Slice: channel halves, computed starts or ends, negative starts over two axes', async (t) => {
  const x = randomInput([2, 4, 3, 3], 10);
  const channels = (g: Graph) => g.op('Slice', [g.op('Shape', ['x']), ints(g, [1]), ints(g, [2])]);
  await check(t, (g) => g.op('Slice', ['x', ints(g, [0]), ints(g, [2]), ints(g, [1])]), { inputs: { x } });
  // torch 1.13 exports torch.chunk's halves with bounds computed from the input's shape.
  await check(
    t,
    (g) => g.op('Slice', ['x', ints(g, [0]), g.op('Div', [channels(g), ints(g, [2])]), ints(g, [1])]),
    {
      inputs: { x },
    },
  );
  await check(
    t,
    (g) => g.op('Slice', ['x', g.op('Div', [channels(g), ints(g, [2])]), channels(g), ints(g, [1])]),
    {
      inputs: { x },
    },
  );
  // ... even its axis, which is then the one whose size changed; and a computed axis that keeps it all.
  const computedAxis = (g: Graph) => g.op('Neg', [ints(g, [-1])]);
  await check(t, (g) => g.op('Slice', ['x', ints(g, [1]), channels(g), computedAxis(g)]), { inputs: { x } });
  await check(t, (g) => g.op('Slice', ['x', ints(g, [0]), channels(g), computedAxis(g)]), { inputs: { x } });
  // A computed start that Slice clamps: -5 on 4 channels starts at 0.
  await check(t, (g) => g.op('Slice', ['x', g.op('Neg', [ints(g, [5])]), channels(g), ints(g, [1])]), {
    inputs: { x },
  });
  await check(t, (g) => g.op('Slice', ['x', ints(g, [-3, 1]), ints(g, [-1, 3]), ints(g, [2, 3])]), {
    inputs: { x: randomInput([2, 2, 5, 4], 11) },
  });
});

test('Slice reads Constant nodes as constants, as torch exports write its operands', async (t) => {
  const constant = (g: Graph, values: number[]) =>
    g.op('Constant', [], { value: attr.tensor(i64([values.length], values)) });
  await check(t, (g) => g.op('Slice', ['x', constant(g, [1, 0]), constant(g, [3, 2]), constant(g, [1, 3])]), {
    inputs: { x: randomInput([2, 4, 3, 3], 15) },
  });
});

test('Slice with steps, or with computed axes over two axes, is refused in one line', async () => {
  const x = randomInput([2, 4], 12);
  await assert.rejects(
    gradCheck((g) => g.op('Slice', ['x', ints(g, [0]), ints(g, [4]), ints(g, [1]), ints(g, [2])], {}, 's'), {
      inputs: { x },
    }),
    /^Error: autodiff: Slice 's' has steps \[2\]; only steps of 1 are supported$/,
  );
  await assert.rejects(
    gradCheck(
      (g) => g.op('Slice', ['x', ints(g, [1, 1]), ints(g, [2, 3]), g.op('Neg', [ints(g, [0, -1])])], {}, 's'),
      {
        inputs: { x },
      },
    ),
    /^Error: autodiff: Slice 's' has computed axes or steps; only constants are supported$/,
  );
});

test('Pad in constant mode: a symbolic batch, an unpadded axis between padded ones, crops, computed pads', async (t) => {
  const x = randomInput([2, 3, 4, 5], 13);
  await check(t, (g) => g.op('Pad', ['x', ints(g, [0, 0, 1, 0, 0, 0, 0, 2])]), { inputs: { x } });
  await check(
    t,
    (g) => {
      g.inputs[0].shape[0] = 'N';
      const padded = g.op('Pad', ['x', ints(g, [0, 1, 0, 2, 0, 0, 0, 1]), g.constant(f32([], [0.5]))]);
      return g.op('ReduceSum', [padded, ints(g, [0])]);
    },
    { inputs: { x } },
  );
  // Negative pads crop: those positions get no gradient.
  await check(t, (g) => g.op('Pad', ['x', ints(g, [0, -1, 2, -2, 0, 1, -1, 1])]), { inputs: { x } });
  await check(t, (g) => g.op('Pad', ['x', g.op('Neg', [ints(g, [0, 0, -1, -1, 0, 0, 0, 1])])]), {
    inputs: { x },
  });
});

test('Pad in reflect mode is refused in one line', async () => {
  await assert.rejects(
    gradCheck((g) => g.op('Pad', ['x', ints(g, [0, 1, 0, 1])], { mode: attr.string('reflect') }, 'p'), {
      inputs: { x: randomInput([2, 4], 14) },
    }),
    /^Error: autodiff: Pad 'p' pads in mode 'reflect'; only 'constant' is supported$/,
  );
});

test('Slice and Pad of opsets that took their bounds as attributes are refused in one line', () => {
  const refused = (op: string, attrs: Record<string, Attr>) => {
    const g = new Graph();
    g.opset = 9;
    g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 4] });
    const y = g.op(op, ['x'], attrs, 'old');
    // The output stands in for the loss (a scalar seed); the rules refuse before reading its shape.
    const shapes = new Map<string, Dim[]>([
      ['x', [2, 4]],
      [y, []],
    ]);
    return () => appendBackward(g, { loss: y, wrt: ['x'], shapes });
  };
  assert.throws(
    refused('Slice', { starts: attr.ints([1]), ends: attr.ints([3]), axes: attr.ints([1]) }),
    /^Error: autodiff: Slice 'old' has its bounds as attributes \(opset 1-9\); export the model at opset 10 or later$/,
  );
  assert.throws(
    refused('Pad', { pads: attr.ints([0, -1, 0, -1]) }),
    /^Error: autodiff: Pad 'old' has its pads as an attribute \(opset 1-10\); export the model at opset 11 or later$/,
  );
});
