import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  AdamW,
  addLora,
  buildResNet,
  defaultTargets,
  ForwardStep,
  loadAdapterWeights,
  mergeLora,
  randomResNetStateDict,
  readAdapterConfig,
  saveAdapter,
  Session,
  toOnnxBytes,
  TrainStep,
} from '../../src/index.js';
import { f32 } from '../../src/graph/tensor.js';
import { loraConfigOf } from '../../src/lora/adapter-format.js';
import { Rng } from '../../src/random/rng.js';

/** A task LoRA can learn: class 1 images have a bright top-left quadrant. */
function batch(rng: Rng, n: number, size: number) {
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  const data = new Float32Array(n * 3 * size * size);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const bright = labels[i] === 1 && y < size / 2 && x < size / 2;
          data[((i * 3 + c) * size + y) * size + x] = rng.uniform(-1, 1) + (bright ? 1.5 : 0);
        }
  return { input: f32([n, 3, size, size], data), labels };
}

test('the public API trains, saves, reloads and merges a LoRA model end to end', async () => {
  const backbone = buildResNet(18, randomResNetStateDict(18, 1));
  const model = addLora(backbone, { r: 4, alpha: 8, targets: defaultTargets(backbone) }, { seed: 2 });
  const step = await TrainStep.compile(model, { threads: 2, imageSize: [32, 32] });
  const opt = new AdamW({ weightDecay: 1e-4 });
  const rng = new Rng(3);
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    const { input, labels } = batch(rng, 16, 32);
    losses.push((await step.run(input, labels)).loss);
    opt.step(step.params, 3e-3);
  }
  const first = (losses[0] + losses[1] + losses[2]) / 3;
  const last = (losses[27] + losses[28] + losses[29]) / 3;
  assert.ok(last < first / 2, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);

  const test = batch(new Rng(99), 32, 32);
  const logits = await (await ForwardStep.compile(model)).run(test.input);
  const correct = test.labels.filter((y, i) => Number(logits[2 * i + 1] > logits[2 * i]) === y).length;
  assert.ok(correct >= 30, `held-out accuracy ${correct}/32`);

  const dir = await mkdtemp(join(tmpdir(), 'adapter-'));
  await saveAdapter(dir, model);
  const config = await readAdapterConfig(dir);
  const reloaded = addLora(backbone, loraConfigOf(config), { seed: 77 });
  await loadAdapterWeights(dir, reloaded);
  const again = await (await ForwardStep.compile(reloaded)).run(test.input);
  assert.deepEqual(again, logits, 'a reloaded adapter gives the same logits bit for bit');

  const merged = await Session.create(toOnnxBytes(mergeLora(model)));
  const plain = (await merged.run({ input: test.input })).logits.data as Float32Array;
  const err = plain.reduce((m, v, i) => Math.max(m, Math.abs(v - logits[i])), 0);
  assert.ok(err < 1e-4 * Math.max(...logits.map(Math.abs)), `merged model differs by ${err}`);
});

test('compile, then load an adapter, then train: the step and the optimizer see the loaded values', async () => {
  const backbone = buildResNet(18, randomResNetStateDict(18, 1));
  const config = { r: 4, alpha: 8, targets: defaultTargets(backbone) };
  const { input, labels } = batch(new Rng(5), 8, 32);

  // An adapter that differs from a fresh init: a few trained steps.
  const trained = addLora(backbone, config, { seed: 2 });
  const trainer = await TrainStep.compile(trained, { threads: 2, imageSize: [32, 32] });
  const opt = new AdamW({ weightDecay: 0 });
  for (let i = 0; i < 3; i++) {
    await trainer.run(input, labels);
    opt.step(trainer.params, 1e-2);
  }
  const dir = await mkdtemp(join(tmpdir(), 'adapter-'));
  await saveAdapter(dir, trained);
  const expected = (await trainer.run(input, labels)).loss;

  // Compiled first, loaded second: the loaded values must be what the step runs and the optimizer moves.
  const model = addLora(backbone, config, { seed: 9 });
  const step = await TrainStep.compile(model, { threads: 2, imageSize: [32, 32] });
  const fresh = (await step.run(input, labels)).loss;
  await loadAdapterWeights(dir, model);
  assert.equal((await step.run(input, labels)).loss, expected, `loss after loading (fresh init: ${fresh})`);
  for (const p of step.params) assert.equal(p.value, model.params.get(p.name)!.data, `${p.name} is shared`);
  const before = model.params.get('fc.weight')!.data.slice();
  new AdamW().step(step.params, 1e-2);
  assert.notDeepEqual(model.params.get('fc.weight')!.data, before, 'the optimizer updates the model');
  await Promise.all([trainer.release(), step.release()]);
});
