import { test, type TestContext } from 'node:test';
import { attr, type Graph } from '../../src/graph/ir.js';
import { i64 } from '../../src/graph/tensor.js';
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
