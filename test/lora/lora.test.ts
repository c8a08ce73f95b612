import assert from 'node:assert/strict';
import { test } from 'node:test';
import { f32 } from '../../src/graph/tensor.js';
import { isTarget } from '../../src/lora/config.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora } from '../../src/lora/lora-model.js';
import { mergeLora, unmergeLora } from '../../src/lora/merge.js';
import { formatParamTable, summarizeParams } from '../../src/lora/param-table.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';

import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { ForwardStep } from '../../src/train/forward-step.js';

test('the seed recipe on ResNet34 has exactly 463,872 adapter + 1,026 head = 464,898 trainable of 21,749,570', () => {
  const backbone = buildResNet(34, randomResNetStateDict(34, 0));
  const model = addLora(backbone, { r: 8, alpha: 16, targets: defaultTargets(backbone) });
  assert.equal(model.sites.length, 18);
  assert.ok(model.sites.every((s) => /^layer[34]\.\d+\.conv[12]$/.test(s.node) && s.shapeA[2] === 3));
  const sum = summarizeParams(model);
  assert.deepEqual(
    { ...sum, percent: Number(sum.percent.toFixed(2)) },
    { adapter: 463_872, head: 1_026, trainable: 464_898, total: 21_749_570, percent: 2.14 },
  );
  const table = formatParamTable(model);
  assert.match(table, /layer4\.0\.conv1 +\[8,256,3,3\] +\[512,8,1,1\] +22528/);
  assert.match(table, /trainable params: 464,898 .* all params: 21,749,570 .* trainable%: 2\.137/);
});

test('targets follow PEFT: a string is a full-match regex, a list matches names or dotted suffixes', () => {
  const re = { r: 1, alpha: 1, targets: String.raw`layer3\.\d\.conv1` };
  assert.ok(isTarget(re, 'layer3.0.conv1'));
  assert.ok(!isTarget(re, 'layer3.0.conv10'));
  assert.ok(!isTarget(re, 'xlayer3.0.conv1'));
  const list = { r: 1, alpha: 1, targets: ['conv2', 'layer4.0.downsample.0'] };
  assert.ok(isTarget(list, 'layer1.0.conv2'));
  assert.ok(isTarget(list, 'layer4.0.downsample.0'));
  assert.ok(!isTarget(list, 'layer1.0.myconv2'));
});

test('targets that match nothing, or a rank that is not a positive integer, are refused with the reason', () => {
  const backbone = buildResNet(18, randomResNetStateDict(18, 0));
  assert.throws(
    () => addLora(backbone, { r: 8, alpha: 16, targets: 'nope' }),
    /no Conv node matches targets "nope"/,
  );
  assert.throws(
    () => addLora(backbone, { r: 0, alpha: 16, targets: 'conv1' }),
    /rank must be a positive integer/,
  );
});

test('merged weights give the adapted outputs within 1e-4, and unmerge restores the base weights', async () => {
  const backbone = buildResNet(18, randomResNetStateDict(18, 3));
  const model = addLora(backbone, { r: 4, alpha: 8, targets: defaultTargets(backbone) }, { seed: 5 });
  const rng = new Rng(9);
  // B starts at zero, which would make merging trivially exact: give it real values.
  for (const s of model.sites)
    model.params.get(s.b)!.data.set(rng.uniformArray(s.shapeB[0] * s.shapeB[1], -0.05, 0.05));
  const input = f32([2, 3, 64, 64], rng.uniformArray(2 * 3 * 64 * 64, -2, 2));

  const adapted = await (await ForwardStep.compile(model)).run(input);
  const merged = mergeLora(model);
  assert.ok(!merged.nodes.some((n) => n.name.includes('lora')), 'the merged graph is a plain model');
  assert.deepEqual(
    merged.inputs.map((i) => i.name),
    ['input'],
  );
  const plain = (await (await Session.create(merged)).run({ input })).logits.data as Float32Array;
  const scale = Math.max(...adapted.map(Math.abs));
  const diff = Math.max(...adapted.map((v, i) => Math.abs(v - plain[i])));
  assert.ok(diff / scale < 1e-4, `merged vs adapted: ${diff / scale}`);
  const w0 = backbone.graph.node(model.sites[0].node).inputs[1];
  assert.notDeepEqual(
    merged.initializers.get(w0)!.data,
    backbone.graph.initializers.get(w0)!.data,
    'merging changed the weights',
  );

  const restored = unmergeLora(merged, model);
  for (const s of model.sites) {
    const name = backbone.graph.node(s.node).inputs[1];
    const a = backbone.graph.initializers.get(name)!.data as Float32Array;
    const b = restored.initializers.get(name)!.data as Float32Array;
    const err = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
    assert.ok(err < 1e-6, `${s.node}: unmerged weight differs by ${err}`);
  }
});
