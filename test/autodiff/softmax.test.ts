import { test, type TestContext } from 'node:test';
import { attr, type Attr, type Graph } from '../../src/graph/ir.js';
import { i64 } from '../../src/graph/tensor.js';
import { gradCheck, randomInput, type GradCheckOptions } from '../helpers/grad-check.js';

async function check(t: TestContext, build: (g: Graph) => string, opts: GradCheckOptions) {
  t.diagnostic(`worst FD error ${JSON.stringify(await gradCheck(build, opts))}`);
}

const inputs = { x: randomInput([2, 3, 4], 1, -2, 2) };

test('Softmax and LogSoftmax along a given and the default axis', async (t) => {
  for (const op of ['Softmax', 'LogSoftmax']) {
    await check(t, (g) => g.op(op, ['x'], { axis: attr.int(1) }), { inputs });
    await check(t, (g) => g.op(op, ['x']), { inputs });
  }
});

test('ReduceSum with axes as an input, keepdims both ways, and noop_with_empty_axes', async (t) => {
  const sum = (g: Graph, axes: number[] | undefined, attrs: Record<string, Attr> = {}) =>
    g.op('ReduceSum', axes ? ['x', g.constant(i64([axes.length], axes))] : ['x'], attrs);
  await check(t, (g) => sum(g, [1]), { inputs });
  await check(t, (g) => sum(g, [-1, 0], { keepdims: attr.int(0) }), { inputs });
  await check(t, (g) => sum(g, undefined, { keepdims: attr.int(0) }), { inputs });
  await check(t, (g) => sum(g, [], { noop_with_empty_axes: attr.int(1) }), { inputs });
});

test('ReduceMean with axes as an attribute, keepdims both ways', async (t) => {
  await check(t, (g) => g.op('ReduceMean', ['x'], { axes: attr.ints([1, 2]) }), { inputs });
  await check(t, (g) => g.op('ReduceMean', ['x'], { axes: attr.ints([-2]), keepdims: attr.int(0) }), {
    inputs,
  });
  await check(t, (g) => g.op('ReduceMean', ['x'], { keepdims: attr.int(0) }), { inputs });
});

test('reductions with a symbolic batch, over it and beside it', async (t) => {
  const batched = (build: (g: Graph) => string) => (g: Graph) => {
    g.inputs[0].shape[0] = 'N';
    return build(g);
  };
  await check(
    t,
    batched((g) => g.op('ReduceMean', ['x'], { axes: attr.ints([0, 2]) })),
    { inputs },
  );
  const perSample = (g: Graph) =>
    g.op('ReduceSum', ['x', g.constant(i64([1], [2]))], { keepdims: attr.int(0) });
  await check(
    t,
    batched((g) => g.op('ReduceMean', [perSample(g)], { keepdims: attr.int(0) })),
    { inputs },
  );
});
