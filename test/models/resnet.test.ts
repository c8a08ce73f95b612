import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attr } from '../../src/graph/ir.js';
import { f32, toFloat32 } from '../../src/graph/tensor.js';
import { buildResNet, randomResNetStateDict, type ResNetDepth } from '../../src/models/resnet.js';
import { countParameters } from '../../src/models/state-dict.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { loadSafetensors } from '../../src/weights/safetensors-file.js';
import { sharedPath } from '../helpers/shared.js';

const LORA_TARGETS = ['layer3.0.conv1', 'layer3.0.conv2', 'layer3.1.conv1', 'layer3.1.conv2'].flatMap((n) => [
  n,
  n.replace('layer3', 'layer4'),
]);

async function features(
  depth: ResNetDepth,
  sd: Parameters<typeof buildResNet>[1],
  x: ReturnType<typeof f32>,
) {
  const s = await Session.create(buildResNet(depth, sd).graph);
  try {
    return (await s.run({ input: x })).features;
  } finally {
    await s.release();
  }
}

const fixture = sharedPath('fixtures/torch/resnet18_random.safetensors');
const reference = sharedPath('fixtures/torch/lora_reference.safetensors');

test(
  'resnet18 from the torchvision fixture names its convs by module path and matches PyTorch features',
  { skip: fixture.skip || reference.skip },
  async () => {
    const { tensors: sd } = await loadSafetensors(fixture.path);
    const backbone = buildResNet(18, sd);
    for (const name of [...LORA_TARGETS, 'conv1', 'layer2.0.downsample.0', 'layer4.0.downsample.0'])
      assert.equal(backbone.graph.node(name).op, 'Conv', name);
    assert.equal(backbone.featureDim, 512);
    assert.equal(countParameters(sd), 11_689_512);
    assert.equal(backbone.parameterCount, 11_689_512 - 513_000);

    // PyTorch's pooled features for the fixture batch come from the model with its LoRA adapters (PEFT:
    // on the conv, before BatchNorm), so add them here by hand, scaled through the folded BatchNorm.
    const ref = (await loadSafetensors(reference.path)).tensors;
    const g = backbone.graph.clone();
    for (const target of LORA_TARGETS) {
      const node = g.node(target);
      const a = toFloat32(ref.get(`${target}.lora_A.weight`)!);
      const b = toFloat32(ref.get(`${target}.lora_B.weight`)!);
      const scale = backbone.bnScales.get(target)!;
      const [outC, r] = b.shape;
      const scaledB = b.data.map((v, i) => v * 2 * scale[Math.floor(i / r)]); // alpha/r = 2
      g.initializers.set(`${target}.A`, a);
      g.initializers.set(`${target}.B`, f32([outC, r, 1, 1], scaledB));
      const down = g.op('Conv', [node.inputs[0], `${target}.A`], {
        kernel_shape: attr.ints([3, 3]),
        strides: node.attrs.strides,
        pads: attr.ints([1, 1, 1, 1]),
      });
      const up = g.op('Conv', [down, `${target}.B`], { kernel_shape: attr.ints([1, 1]) });
      const sum = g.op('Add', [target, up]);
      g.replaceUses(target, sum, g.node(sum));
    }
    g.sort();
    const s = await Session.create(g);
    const got = (await s.run({ input: toFloat32(ref.get('x')!) })).features;
    await s.release();
    const want = toFloat32(ref.get('features')!).data;
    assert.deepEqual(got.shape, [4, 512]);
    const scale = Math.max(...want.map(Math.abs));
    const maxErr = Math.max(...(got.data as Float32Array).map((v, i) => Math.abs(v - want[i])));
    assert.ok(maxErr <= 1e-5 * scale, `max |ours - torch| = ${maxErr} (max |feature| ${scale})`);

    // Same key set and shapes as torchvision: the random init mirrors the real module tree.
    const random = randomResNetStateDict(18, 1);
    assert.deepEqual(
      [...random].map(([k, t]) => `${k}:${t.shape}`),
      [...sd].map(([k, t]) => `${k}:${t.shape}`),
    );
  },
);

test('resnet18 runs a [2,3,64,64] batch to [2,512] features', async () => {
  const x = f32([2, 3, 64, 64], new Rng(3).uniformArray(2 * 3 * 64 * 64, -2, 2));
  const out = await features(18, randomResNetStateDict(18, 0), x);
  assert.deepEqual(out.shape, [2, 512]);
  assert.ok([...out.data].every(Number.isFinite));
});

for (const [depth, total, dim] of [
  [34, 21_797_672, 512],
  [50, 25_557_032, 2048],
] as const) {
  test(`resnet${depth} from a random state dict has torchvision's ${total.toLocaleString('en-US')} parameters and runs`, async () => {
    const sd = randomResNetStateDict(depth, 0);
    assert.equal(countParameters(sd), total);
    const backbone = buildResNet(depth, sd);
    assert.equal(backbone.parameterCount, total - (dim * 1000 + 1000));
    for (const name of LORA_TARGETS) assert.equal(backbone.graph.node(name).op, 'Conv');
    const names = backbone.graph.nodes.map((n) => n.name);
    assert.equal(new Set(names).size, names.length, 'node names are unique');
    if (depth === 50) assert.equal(backbone.graph.node('layer1.0.downsample.0').op, 'Conv');
    const out = await features(depth, sd, f32([1, 3, 64, 64], new Rng(4).uniformArray(3 * 64 * 64, -2, 2)));
    assert.deepEqual(out.shape, [1, dim]);
  });
}

test('the random init is seeded and kaiming-normal (fan_out)', () => {
  const a = randomResNetStateDict(18, 5);
  const b = randomResNetStateDict(18, 5);
  const w = a.get('layer1.0.conv1.weight')!.data as Float32Array;
  assert.deepEqual(w, b.get('layer1.0.conv1.weight')!.data);
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  const want = Math.sqrt(2 / (64 * 9));
  assert.ok(Math.abs(std / want - 1) < 0.02, `std ${std}, want ${want}`);
  assert.notDeepEqual(randomResNetStateDict(18, 6).get('conv1.weight')!.data, a.get('conv1.weight')!.data);
  assert.deepEqual([...a.get('bn1.running_var')!.data], new Array(64).fill(1));
});

test('a wrong-shaped or missing key is a one-line error naming key and shapes', () => {
  const sd = randomResNetStateDict(18, 0);
  const key = 'layer2.0.conv1.weight';
  sd.set(key, f32([128, 64, 1, 1]));
  assert.throws(
    () => buildResNet(18, sd),
    (e: Error) =>
      e.message === `resnet18: '${key}' has shape [128,64,1,1], expected [128,64,3,3]` &&
      !e.message.includes('\n'),
  );
  sd.delete(key);
  assert.throws(() => buildResNet(18, sd), {
    message: `resnet18: state dict has no '${key}' (expected shape [128,64,3,3])`,
  });
  // resnet18 weights are not resnet50's: the first mismatch is named.
  assert.throws(() => buildResNet(50, randomResNetStateDict(18, 0)), {
    message: "resnet50: 'layer1.0.conv1.weight' has shape [64,64,3,3], expected [64,64,1,1]",
  });
});
