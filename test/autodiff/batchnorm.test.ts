import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, type Graph } from '../../src/graph/ir.js';
import { f32 } from '../../src/graph/tensor.js';
import { gradCheck, randomInput } from '../helpers/grad-check.js';

/** BatchNormalization over C channels with distinct statistics, frozen as constants. */
function batchNorm(g: Graph, c: number, training = false): string {
  const per = (seed: number, lo: number, hi: number) => g.constant(randomInput([c], seed, lo, hi));
  const stats = [per(2, 0.5, 2), per(3, -1, 1), per(4, -1, 1), per(5, 0.1, 3)];
  // In training mode the op also returns the running mean and variance.
  return g.add('BatchNormalization', ['x', ...stats], {
    name: 'bn',
    outputs: training ? 3 : 1,
    attrs: { epsilon: attr.float(1e-3), ...(training ? { training_mode: attr.int(1) } : {}) },
  })[0];
}

test('BatchNormalization with frozen statistics, over NCHW and NC', async (t) => {
  for (const shape of [
    [2, 3, 4, 5],
    [4, 3],
  ]) {
    const worst = await gradCheck((g) => batchNorm(g, 3), { inputs: { x: randomInput(shape, 1) } });
    t.diagnostic(`[${shape}]: worst FD error ${JSON.stringify(worst)}`);
  }
});

test('BatchNormalization in training mode, or with a trainable scale, is refused in one line', async () => {
  const x = randomInput([2, 3, 2, 2], 1);
  await assert.rejects(
    gradCheck((g) => batchNorm(g, 3, true), { inputs: { x } }),
    /^Error: autodiff: BatchNormalization 'bn' is in training mode; only inference BatchNormalization is supported$/,
  );
  await assert.rejects(
    gradCheck((g) => g.op('BatchNormalization', ['x', 's', 's', 's', 's'], {}, 'bn'), {
      inputs: { x, s: f32([3], [1, 1, 1]) },
    }),
    /^Error: autodiff: BatchNormalization 'bn' has a trainable 's'; only its input X may get a gradient$/,
  );
});
