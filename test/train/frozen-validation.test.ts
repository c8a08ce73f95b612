import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Batch } from '../../src/data/loader.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { splitPrefix } from '../../src/graph/split-prefix.js';
import { f32 } from '../../src/graph/tensor.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora } from '../../src/lora/lora-model.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { ForwardStep } from '../../src/train/forward-step.js';
import { FrozenValidation } from '../../src/train/frozen-validation.js';
import { predict } from '../../src/train/predict.js';

const backbone = buildResNet(18, randomResNetStateDict(18, 1));

/** A LoRA model whose adapters are not zero, so the adapted layers change the logits. */
function model(targets = defaultTargets(backbone), seed = 2) {
  const m = addLora(backbone, { r: 4, alpha: 8, targets }, { seed });
  const rng = new Rng(seed);
  for (const t of m.params.values())
    for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(-0.1, 0.1);
  return m;
}

function batches(n: number, size: number, per: number): Batch[] {
  const rng = new Rng(5);
  return Array.from({ length: n }, (_, k) => ({
    input: f32(
      [per, 3, size, size],
      Float32Array.from({ length: per * 3 * size * size }, () => rng.uniform(-1, 1)),
    ),
    labels: Int32Array.from({ length: per }, (_, i) => (i + k) % 2),
    paths: Array.from({ length: per }, (_, i) => `b${k}-${i}.jpg`),
  }));
}

async function* each(bs: Batch[]) {
  yield* bs;
}

test('the frozen prefix of ResNet18 with LoRA on layer3/4 ends at layer2, and the two parts compute the whole', async () => {
  const m = model();
  const split = splitPrefix(m.graph, new Set(m.params.keys()))!;
  // layer3.0's base conv and downsample read only layer2's output, so they go with the suffix.
  assert.deepEqual(split.boundary, ['layer2.1.relu_1']);
  const suffixGraph = split.suffix([
    { name: 'layer2.1.relu_1', dtype: 'float32', shape: ['N', 'C', 'H', 'W'] },
  ]);
  assert.equal(split.prefix.nodes.length + suffixGraph.nodes.length, m.graph.nodes.length);
  assert.ok(
    split.prefix.inputs.every((i) => !m.params.has(i.name)),
    'the prefix reads no trainable',
  );
  assert.deepEqual(
    split.prefix.nodes.map((n) => n.name).filter((n) => n.startsWith('layer3')),
    [],
  );
  const [input] = batches(1, 32, 3).map((b) => b.input);
  const whole = await Session.create(m.graph, { threads: 1 });
  const [prefix, suffix] = await Promise.all(
    [toOnnxBytes(split.prefix, { untypedOutputs: split.boundary }), suffixGraph].map((g) =>
      Session.create(g, { threads: 1 }),
    ),
  );
  const params = Object.fromEntries(m.params);
  const front = await prefix.run({ input });
  assert.deepEqual(
    (await suffix.run({ ...front, ...params })).logits,
    (await whole.run({ input, ...params })).logits,
  );
  await Promise.all([whole, prefix, suffix].map((s) => s.release()));
});

test('no prefix when the first layer is adapted', () => {
  const m = model(String.raw`conv1|layer[34]\.\d+\.conv[12]`);
  assert.equal(splitPrefix(m.graph, new Set(m.params.keys())), undefined);
});

test('FrozenValidation predicts what predict does, epoch after epoch as the trainables change', async () => {
  const m = model();
  const forward = await ForwardStep.compile(m, { threads: 1 });
  const val = batches(3, 32, 4);
  for (const tta of [false, true]) {
    const frozen = await FrozenValidation.open(forward, each(val), tta);
    for (let epoch = 0; epoch < 2; epoch++) {
      const want = await predict((x) => forward.run(x), each(val), m.numClasses, { tta });
      assert.deepEqual(await frozen.predict(m.numClasses), want);
      for (const t of m.params.values()) for (let i = 0; i < t.data.length; i++) t.data[i] *= 1.5;
    }
  }
  await forward.release();
});
