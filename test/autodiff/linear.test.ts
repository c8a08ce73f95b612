import { test, type TestContext } from 'node:test';
import { attr, type Graph } from '../../src/graph/ir.js';
import { i64 } from '../../src/graph/tensor.js';
import { gradCheck, randomInput, type GradCheckOptions } from '../helpers/grad-check.js';

async function check(t: TestContext, build: (g: Graph) => string, opts: GradCheckOptions) {
  t.diagnostic(`worst FD error ${JSON.stringify(await gradCheck(build, opts))}`);
}

test('Gemm as the classification head: features·Wᵀ + b, with transB=1', async (t) => {
  await check(t, (g) => g.op('Gemm', ['x', 'w', 'b'], { transB: attr.int(1) }), {
    inputs: { x: randomInput([3, 8], 1), w: randomInput([2, 8], 2), b: randomInput([2], 3) },
  });
});

test('Gemm with every transpose, alpha, beta and bias shape', async (t) => {
  const [m, k, n] = [3, 4, 2];
  const biases = [[m, n], [1, n], [m, 1], []];
  for (const transA of [0, 1])
    for (const transB of [0, 1]) {
      const c = biases[2 * transA + transB];
      await check(
        t,
        (g) =>
          g.op('Gemm', ['a', 'b', 'c'], {
            transA: attr.int(transA),
            transB: attr.int(transB),
            alpha: attr.float(0.5),
            beta: attr.float(-2),
          }),
        {
          inputs: {
            a: randomInput(transA ? [k, m] : [m, k], 4),
            b: randomInput(transB ? [n, k] : [k, n], 5),
            c: randomInput(c, 6),
          },
        },
      );
    }
});

test('Gemm without a bias', async (t) => {
  await check(t, (g) => g.op('Gemm', ['a', 'b']), {
    inputs: { a: randomInput([2, 3], 7), b: randomInput([3, 4], 8) },
  });
});

test('MatMul, 2-D and batched with broadcasting', async (t) => {
  await check(t, (g) => g.op('MatMul', ['a', 'b']), {
    inputs: { a: randomInput([3, 4], 9), b: randomInput([4, 2], 10) },
  });
  await check(t, (g) => g.op('MatMul', ['a', 'b']), {
    inputs: { a: randomInput([2, 3, 4], 11), b: randomInput([4, 2], 12) },
  });
  await check(t, (g) => g.op('MatMul', ['a', 'b']), {
    inputs: { a: randomInput([2, 1, 3, 4], 13), b: randomInput([3, 4, 2], 14) },
  });
});

test('Gemm and batched MatMul with a symbolic batch', async (t) => {
  const sumBatch = (g: Graph, y: string) => g.op('ReduceSum', [y, g.constant(i64([1], [0]))]);
  const declare = (g: Graph) => (g.inputs[0].shape[0] = 'N');
  await check(
    t,
    (g) => {
      declare(g);
      return sumBatch(g, g.op('Gemm', ['x', 'w', 'b'], { transB: attr.int(1) }));
    },
    { inputs: { x: randomInput([3, 8], 15), w: randomInput([2, 8], 16), b: randomInput([2], 17) } },
  );
  await check(
    t,
    (g) => {
      declare(g);
      return sumBatch(g, g.op('MatMul', ['a', 'b']));
    },
    { inputs: { a: randomInput([2, 3, 4], 18), b: randomInput([4, 2], 19) } },
  );
});
