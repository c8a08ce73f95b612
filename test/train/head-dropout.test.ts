import assert from 'node:assert/strict';
import { test } from 'node:test';
import { derivedRng, dropoutRng } from '../../src/data/derived-rng.js';
import { f32 } from '../../src/graph/tensor.js';
import { HEAD_BIAS, HEAD_NODE, HEAD_WEIGHT } from '../../src/lora/head.js';
import { addLora } from '../../src/lora/lora-model.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';
import { dropoutMask, TrainStep } from '../../src/train/train-step.js';

test("the dropout mask: torch's inverted dropout, each entry 0 or 1/(1-p), drawn from its key alone", () => {
  const m = dropoutMask(dropoutRng(7, 2, 5), [64, 512], 0.2);
  assert.ok(m.data.every((v) => v === 0 || Math.abs(v - 1.25) < 1e-7));
  const dropped = m.data.filter((v) => v === 0).length / m.data.length;
  assert.ok(Math.abs(dropped - 0.2) < 0.01, `dropped ${dropped}`);
  assert.deepEqual(dropoutMask(dropoutRng(7, 2, 5), [64, 512], 0.2), m);
  assert.notDeepEqual(dropoutMask(dropoutRng(7, 2, 6), [64, 512], 0.2).data, m.data);
});

test('head dropout: the step masks the features the head sees, and its gradients match finite differences', async () => {
  const backbone = buildResNet(18, randomResNetStateDict(18, 1));
  const model = addLora(backbone, { r: 2, alpha: 4, targets: defaultTargets(backbone) }, { seed: 2 });
  const features = model.graph.node(HEAD_NODE).inputs[0];
  const step = await TrainStep.compile(model, {
    threads: 2,
    imageSize: [32, 32],
    headDropout: 0.5,
    expose: [features],
  });
  const rng = new Rng(3);
  const input = f32([4, 3, 32, 32], rng.uniformArray(4 * 3 * 32 * 32, -1, 1));
  const labels = [0, 1, 1, 0];
  const key = () => derivedRng([11]);
  const r = await step.run(input, labels, { dropout: key() });
  const mask = dropoutMask(key(), [4, 512], 0.5).data;
  const f = r.exposed![features].data as Float32Array;
  const [w, b] = [HEAD_WEIGHT, HEAD_BIAS].map((n) => model.params.get(n)!.data);
  for (let i = 0; i < 4; i++)
    for (let k = 0; k < 2; k++) {
      let z = b[k];
      for (let j = 0; j < 512; j++) z += f[i * 512 + j] * mask[i * 512 + j] * w[k * 512 + j];
      assert.ok(
        Math.abs(r.logits[i * 2 + k] - z) < 1e-4,
        `logit ${i},${k}: ${r.logits[i * 2 + k]} against ${z}`,
      );
    }
  assert.ok(
    mask.some((v, j) => v === 0 && f[j] !== 0),
    'some features the head would see are dropped',
  );

  // d loss / d w for a few of the head's weights, under the same mask each time.
  const grad = step.params.find((p) => p.name === HEAD_WEIGHT)!.grad.slice();
  const eps = 1e-3;
  for (const j of [0, 1, 2, 3, 512, 513]) {
    const w0 = w[j];
    w[j] = w0 + eps;
    const up = (await step.run(input, labels, { dropout: key() })).loss;
    w[j] = w0 - eps;
    const down = (await step.run(input, labels, { dropout: key() })).loss;
    w[j] = w0;
    const fd = (up - down) / (2 * eps);
    assert.ok(
      Math.abs(fd - grad[j]) < 2e-3 * Math.max(1, Math.abs(fd)),
      `weight ${j}: ${grad[j]} against ${fd}`,
    );
  }
  await assert.rejects(step.run(input, labels), /head dropout needs a generator/);
  await step.release();
});
