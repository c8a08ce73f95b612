import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr, type Graph } from '../../src/graph/ir.js';
import { gradCheck, randomInput } from '../helpers/grad-check.js';

/** LayerNormalization from `axis` on, with a frozen scale and bias of the normalised shape. */
function layerNorm(g: Graph, normalised: number[], axis: number): string {
  const scale = g.constant(randomInput(normalised, 2, 0.5, 2));
  const bias = g.constant(randomInput(normalised, 3));
  return g.op(
    'LayerNormalization',
    ['x', scale, bias],
    { axis: attr.int(axis), epsilon: attr.float(1e-5) },
    'ln',
  );
}

test('LayerNormalization over the last axis (ConvNeXt, channels last) and the last two', async (t) => {
  for (const [normalised, axis] of [
    [[6], -1],
    [[3, 4], 1],
  ] as const) {
    const x = randomInput([2, ...normalised], 1, -2, 2);
    const worst = await gradCheck((g) => layerNorm(g, [...normalised], axis), { inputs: { x } });
    t.diagnostic(`axis ${axis}: worst FD error ${JSON.stringify(worst)}`);
  }
});

test('LayerNormalization with a trainable scale is refused in one line', async () => {
  await assert.rejects(
    gradCheck((g) => g.op('LayerNormalization', ['x', 's'], {}, 'ln'), {
      inputs: { x: randomInput([2, 3], 1), s: randomInput([3], 2) },
    }),
    /^Error: autodiff: LayerNormalization 'ln' has a trainable 's'; only its input X may get a gradient$/,
  );
});
