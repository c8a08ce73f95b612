import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Tensor } from '../../src/graph/tensor.js';
import { loraScaling } from '../../src/lora/config.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora, type LoraModel } from '../../src/lora/lora-model.js';
import { mergeLora, mergeSoup } from '../../src/lora/merge.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';

const backbone = buildResNet(18, randomResNetStateDict(18, 3));
const config = { r: 4, alpha: 8, targets: defaultTargets(backbone) };

/** A model whose B factors and head are random, as after training. */
function trained(seed: number): LoraModel {
  const m = addLora(backbone, config, { seed });
  const rng = new Rng(seed + 100);
  for (const [name, t] of m.params)
    if (!name.includes('lora_A'))
      for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(-0.05, 0.05);
  return m;
}

const weightOf = (g: ReturnType<typeof mergeLora>, node: string) =>
  g.initializers.get(g.node(node).inputs[1]) as Tensor<'float32'>;

test('a soup is W + the mean of the merged updates B·A·scale, and the mean head', () => {
  const models = [trained(1), trained(2), trained(3)];
  const soup = mergeSoup(models);
  const singles = models.map(mergeLora);
  const base = backbone.graph;
  for (const site of models[0].sites) {
    const w = base.initializers.get(base.node(site.node).inputs[1])!.data as Float32Array;
    const got = weightOf(soup, site.node).data;
    const deltas = singles.map((g) => weightOf(g, site.node).data.map((v, i) => v - w[i]));
    let worst = 0;
    for (let i = 0; i < w.length; i++) {
      const mean = (deltas[0][i] + deltas[1][i] + deltas[2][i]) / 3;
      worst = Math.max(worst, Math.abs(got[i] - (w[i] + mean)));
    }
    assert.ok(worst < 1e-6, `${site.node}: ${worst}`);
    // The mean of the products, not the product of the means.
    const a = models.map((m) => m.params.get(site.a)!.data);
    assert.notDeepEqual(a[0], a[1]);
  }
  const heads = singles.map((g) => weightOf(g, 'fc').data);
  const souped = weightOf(soup, 'fc').data;
  assert.ok(
    souped.every((v, i) => Math.abs(v - (heads[0][i] + heads[1][i] + heads[2][i]) / 3) < 1e-7),
    'the mean head',
  );
});

test('a soup of one model is its merge, byte for byte; models of other configs do not mix', () => {
  const m = trained(4);
  assert.deepEqual(
    weightOf(mergeSoup([m]), m.sites[0].node).data,
    weightOf(mergeLora(m), m.sites[0].node).data,
  );
  const other = addLora(backbone, { ...config, r: 2 });
  assert.throws(() => mergeSoup([m, other]), /one backbone and one LoRA configuration/);
});

test('rsLoRA scales by alpha/√r', () => {
  assert.equal(loraScaling({ ...config, r: 16, alpha: 32 }), 2);
  assert.equal(loraScaling({ ...config, r: 16, alpha: 32, rslora: true }), 8);
});
