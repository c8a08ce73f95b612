import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { appendBackward } from '../../src/autodiff/backward.js';
import { attr, Graph } from '../../src/graph/ir.js';
import { f32, i64, type Tensor } from '../../src/graph/tensor.js';
import { probeShapes } from '../../src/runtime/probe-shapes.js';
import { Session } from '../../src/runtime/session.js';
import { gradCheck, randomInput, type GradCheckOptions } from '../helpers/grad-check.js';

async function check(t: TestContext, build: (g: Graph) => string, opts: GradCheckOptions) {
  t.diagnostic(`worst FD error ${JSON.stringify(await gradCheck(build, opts))}`);
}

/** Moves values within `margin` of a kink to exactly `margin` away, so central differences never straddle it. */
function awayFrom(t: Tensor<'float32'>, kinks: number[], margin = 0.05): Tensor<'float32'> {
  const data = t.data.map((v) => {
    const k = kinks.find((k) => Math.abs(v - k) < margin);
    return k === undefined ? v : k + (v < k ? -margin : margin);
  });
  return { ...t, data };
}

/** Declares an input's axis as the symbolic batch, as in real training graphs. */
function symbolic(g: Graph, name: string, axis = 0) {
  g.inputs.find((i) => i.name === name)!.shape[axis] = 'N';
}

/** Sums over the batch so the checked output has a static shape. */
function sumBatch(g: Graph, y: string, axis = 0): string {
  return g.op('ReduceSum', [y, g.constant(i64([1], [axis]))]);
}

test('Relu', async (t) => {
  await check(t, (g) => g.op('Relu', ['x']), { inputs: { x: awayFrom(randomInput([2, 3, 4], 1), [0]) } });
});

test('Clip(x, 0, 6) as in MobileNetV2, and with one bound absent', async (t) => {
  const x = awayFrom(randomInput([3, 4, 5], 2, -1, 7), [0, 6]);
  const bound = (g: Graph, v: number) => g.constant(f32([], [v]));
  await check(t, (g) => g.op('Clip', ['x', bound(g, 0), bound(g, 6)]), { inputs: { x } });
  await check(t, (g) => g.op('Clip', ['x', bound(g, 0)]), { inputs: { x } });
  await check(t, (g) => g.op('Clip', ['x', '', bound(g, 6)]), { inputs: { x } });
});

test('Relu and Clip pass no gradient at their kinks, as PyTorch', async () => {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [6] });
  const clipped = g.op('Clip', ['x', g.constant(f32([], [0])), g.constant(f32([], [6]))]);
  const loss = g.op('ReduceSum', [g.op('Add', [clipped, g.op('Relu', ['x'])])], {}, 'loss');
  const grads = appendBackward(g, { loss, wrt: ['x'], shapes: await probeShapes(g) });
  g.outputs = [{ name: grads.get('x')!, dtype: 'float32', shape: [6] }];
  const out = await (await Session.create(g)).run({ x: f32([6], [-1, 0, 3, 6, 7, 1e-30]) });
  // Clip passes strictly inside (0, 6), Relu strictly above 0.
  assert.deepEqual([...out[grads.get('x')!].data], [0, 0, 2, 1, 1, 2]);
});

test('Sigmoid, HardSigmoid (ONNX default and PyTorch slopes) and HardSwish', async (t) => {
  await check(t, (g) => g.op('Sigmoid', ['x']), { inputs: { x: randomInput([2, 3, 4], 20, -4, 4) } });
  const wide = randomInput([3, 4, 5], 21, -5, 5);
  await check(t, (g) => g.op('HardSigmoid', ['x']), { inputs: { x: awayFrom(wide, [-2.5, 2.5]) } });
  const torchLike = { alpha: attr.float(1 / 6), beta: attr.float(0.5) };
  await check(t, (g) => g.op('HardSigmoid', ['x'], torchLike), { inputs: { x: awayFrom(wide, [-3, 3]) } });
  await check(t, (g) => g.op('HardSwish', ['x']), { inputs: { x: awayFrom(wide, [-3, 3]) } });
});

test('HardSigmoid and HardSwish at their kinks give what torch 1.13 gives', async () => {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [6] });
  const sig = g.op('HardSigmoid', ['x'], { alpha: attr.float(1 / 6), beta: attr.float(0.5) });
  const swish = g.op('HardSwish', ['x']);
  const shapes = await probeShapes(g);
  const grad = (y: string) => {
    const h = g.clone();
    const loss = h.op('ReduceSum', [y], {}, 'loss');
    const name = appendBackward(h, { loss, wrt: ['x'], shapes }).get('x')!;
    h.outputs = [{ name, dtype: 'float32', shape: [6] }];
    return async (x: Tensor) => [...(await (await Session.create(h)).run({ x }))[name].data];
  };
  const x = f32([6], [-4, -3, -1, 0, 3, 4]);
  // torch.nn.functional.hardsigmoid(x).sum().backward() and the same for hardswish, on these values.
  const sixth = Math.fround(1 / 6);
  assert.deepEqual(await grad(sig)(x), [0, 0, sixth, sixth, 0, 0]);
  const swishGrad = await grad(swish)(x);
  [0, -0.5, 1 / 6, 0.5, 1.5, 1].forEach((v, i) =>
    assert.ok(Math.abs(Number(swishGrad[i]) - v) < 1e-6, `x=${x.data[i]}`),
  );
});

test('Div broadcasting both ways, Pow by a constant exponent, Sqrt and Erf', async (t) => {
  const inputs = { a: randomInput([2, 3, 4], 22), b: randomInput([3, 1], 23, 0.5, 2) };
  await check(t, (g) => g.op('Div', ['a', 'b']), { inputs });
  await check(t, (g) => g.op('Div', ['b', g.op('Add', ['a', g.constant(f32([], [3]))])]), { inputs });
  const positive = { x: randomInput([3, 4], 24, 0.3, 2) };
  for (const p of [2, 0.5, -1.5])
    await check(t, (g) => g.op('Pow', ['x', g.constant(f32([], [p]))]), { inputs: positive });
  await check(t, (g) => g.op('Sqrt', ['x']), { inputs: positive });
  await check(t, (g) => g.op('Erf', ['x']), { inputs: { x: randomInput([3, 4], 25, -2, 2) } });
});

test('Pow with a trainable exponent is refused in one line', async () => {
  await assert.rejects(
    gradCheck((g) => g.op('Pow', ['x', 'p'], {}, 'pow'), {
      inputs: { x: randomInput([3], 26, 0.5, 1), p: f32([], [2]) },
    }),
    /^Error: autodiff: Pow 'pow' has a trainable exponent 'p', which is not supported$/,
  );
});

test('Add broadcasts a [1,C,1,1] bias over [N,C,H,W]', async (t) => {
  await check(t, (g) => g.op('Add', ['x', 'b']), {
    inputs: { x: randomInput([2, 3, 2, 2], 3), b: randomInput([1, 3, 1, 1], 4) },
  });
});

test('Sub broadcasts a [C] row over [N,C] and a [N,1] column', async (t) => {
  const inputs = { x: randomInput([3, 4], 5), row: randomInput([4], 6), col: randomInput([3, 1], 7) };
  await check(t, (g) => g.op('Sub', [g.op('Sub', ['x', 'row']), 'col']), { inputs });
  await check(t, (g) => g.op('Sub', ['row', 'x']), { inputs: { x: inputs.x, row: inputs.row } });
});

test('Mul of [N,C] by a scalar input, by itself, and across a leading and an inner axis', async (t) => {
  await check(t, (g) => g.op('Mul', ['x', 's']), {
    inputs: { x: randomInput([3, 4], 8), s: f32([], [0.7]) },
  });
  await check(t, (g) => g.op('Mul', ['x', 'x']), { inputs: { x: randomInput([3, 4], 9) } });
  // [1,3] against [2,4,3]: the leading axis goes and the inner one is summed, then reshaped.
  await check(t, (g) => g.op('Mul', ['x', 'y']), {
    inputs: { x: randomInput([1, 3], 10), y: randomInput([2, 4, 3], 11) },
  });
});

test('Neg, Identity and a broadcasting variadic Sum', async (t) => {
  await check(t, (g) => g.op('Identity', [g.op('Neg', ['x'])]), { inputs: { x: randomInput([2, 3], 12) } });
  await check(t, (g) => g.op('Sum', ['a', 'b', 'c']), {
    inputs: { a: randomInput([2, 3], 13), b: randomInput([3], 14), c: randomInput([2, 1], 15) },
  });
});

test('broadcasting gradients with a symbolic batch', async (t) => {
  const inputs = { x: randomInput([2, 3, 2, 2], 16), b: randomInput([1, 3, 1, 1], 17), s: f32([], [1.5]) };
  await check(
    t,
    (g) => {
      symbolic(g, 'x');
      return sumBatch(g, g.op('Mul', [g.op('Add', ['x', 'b']), 's']));
    },
    { inputs },
  );
  // [N,1] against [2,N,3]: reduced with kept dims, then reshaped with -1 for the batch.
  await check(
    t,
    (g) => {
      symbolic(g, 'x', 1);
      symbolic(g, 'col');
      return sumBatch(g, g.op('Mul', ['x', 'col']), 1);
    },
    { inputs: { x: randomInput([2, 3, 3], 18), col: randomInput([3, 1], 19) } },
  );
});
