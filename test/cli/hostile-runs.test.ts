import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { Tensor } from '../../src/graph/tensor.js';
import { loadSafetensors, saveSafetensors } from '../../src/weights/safetensors-file.js';
import {
  linesOf,
  oneLineError,
  readJson,
  runCli,
  tinyFixture,
  trainArgs,
  type Fixture,
} from './cli-fixture.js';

/*
 * Hostile or careless use of the CLI: flags that would need more memory than the machine has, output
 * folders that hold other files or cannot hold a run, checkpoints that do not belong to the model and
 * config.json files that lie. Each is refused in one line, and nothing saved is lost.
 */

let f: Fixture;
/** A finished 1-epoch run and an interrupted one (a checkpoint), shared by the tests below. */
let run: string;
let unfinished: string;

before(async () => {
  f = await tinyFixture();
  run = join(f.root, 'hostile-run');
  assert.equal((await runCli(trainArgs(f, run, ['--epochs', '1']))).code, 0);
  unfinished = join(f.root, 'hostile-unfinished');
  let sent = false;
  const r = await runCli(trainArgs(f, unfinished), {
    onLine(line, child) {
      if (!sent && line.startsWith('epoch 2/2')) {
        sent = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.equal(r.code, 130, r.stderr);
});

test('a rank no target can use and a batch past the free memory are refused before anything is written', async () => {
  const out = join(f.root, 'huge');
  const t0 = performance.now();
  oneLineError(
    await runCli(trainArgs(f, out, ['--rank', '100000'])),
    /^smoker-lora: --rank: must be <= 4096 \(got 100000\)$/,
  );
  oneLineError(
    await runCli(trainArgs(f, out, ['--rank', '300'])),
    /^smoker-lora: lora: rank 300 is above what target 'layer3\.0\.conv1' can use: its update is 256x1152, so its rank is at most 256; pass --rank 256 or less, or give it its own rank with --rank-pattern$/,
  );
  const batch = await runCli(trainArgs(f, out, ['--batch', '4096']));
  oneLineError(
    batch,
    /^smoker-lora: this run needs about [\d.]+ GiB of memory \([\d.]+ of it for a batch of 4096\) and [\d.]+ GiB is free; lower --batch or --rank, or free memory$/,
  );
  assert.ok(performance.now() - t0 < 30_000, 'both refused in seconds');
  assert.ok(!existsSync(out), 'no run folder was made');
});

test('--out holding other files, inside the data, or where no folder can be made is refused', async () => {
  const mine = join(f.root, 'my-folder');
  mkdirSync(mine);
  writeFileSync(join(mine, 'config.json'), '{"my": "settings"}');
  writeFileSync(join(mine, 'notes.txt'), 'keep me');
  oneLineError(
    await runCli(trainArgs(f, mine)),
    /^smoker-lora: --out \S+my-folder: holds files that are not a run's \(notes\.txt\); choose an empty folder or a new one, so nothing is overwritten$/,
  );
  assert.equal(readFileSync(join(mine, 'config.json'), 'utf8'), '{"my": "settings"}');
  assert.deepEqual(readdirSync(mine).sort(), ['config.json', 'notes.txt']);

  const inside = join(f.data, 'runs', 'x');
  oneLineError(
    await runCli(trainArgs(f, inside)),
    /^smoker-lora: --out \S+: is inside the data folder \S+, where its files would be read as data next time; choose a folder outside it$/,
  );
  assert.ok(!existsSync(join(f.data, 'runs')));

  const t0 = performance.now();
  oneLineError(
    await runCli(trainArgs(f, '/proc/smoker-lora/x')),
    /^smoker-lora: --out \/proc\/smoker-lora\/x: cannot create \/proc\/smoker-lora \(ENOENT\); choose a folder you can write to$/,
  );
  assert.ok(performance.now() - t0 < 30_000, 'refused, not hung');
});

/** The unfinished run's checkpoint with its tensors changed, saved back as a self-consistent file. */
async function tamperedCopy(name: string, change: (t: Map<string, Tensor>) => void): Promise<string> {
  const out = join(f.root, name);
  cpSync(unfinished, out, { recursive: true });
  const path = join(out, 'checkpoint.safetensors');
  const { tensors, metadata } = await loadSafetensors(path);
  change(tensors);
  await saveSafetensors(path, tensors, metadata);
  return out;
}

test('--resume refuses a checkpoint that does not match the model, naming the first mismatch', async () => {
  const fc = 'param/fc.weight';
  const cases: [string, (t: Map<string, Tensor>) => void, RegExp][] = [
    ['ck-missing', (t) => t.delete(fc), /: no trainable 'fc\.weight'; /],
    [
      'ck-shorter',
      (t) => t.set(fc, { dtype: 'float32', shape: [10], data: new Float32Array(10) }),
      /: trainable 'fc\.weight' has 10 values, the model has 1024; /,
    ],
    [
      'ck-longer',
      (t) => t.set(fc, { dtype: 'float32', shape: [5000], data: new Float32Array(5000) }),
      /: trainable 'fc\.weight' has 5000 values, the model has 1024; /,
    ],
    [
      'ck-extra',
      (t) => t.set('param/extra.weight', { dtype: 'float32', shape: [3], data: new Float32Array(3) }),
      /: trainable 'extra\.weight' is not in the model; /,
    ],
    [
      'ck-moments',
      (t) => t.set('optim/fc.weight.exp_avg', { dtype: 'float32', shape: [2], data: new Float32Array(2) }),
      /: optimizer state 'fc\.weight\.exp_avg' has 2 values, 'fc\.weight' has 1024; /,
    ],
  ];
  for (const [name, change, message] of cases) {
    const out = await tamperedCopy(name, change);
    const before = readFileSync(join(out, 'checkpoint.safetensors'));
    const r = await runCli([...trainArgs(f, out), '--resume']);
    oneLineError(r, new RegExp(`^smoker-lora: --resume: \\S+checkpoint\\.safetensors${message.source}`));
    assert.ok(readFileSync(join(out, 'checkpoint.safetensors')).equals(before), 'the checkpoint is kept');
    assert.ok(!existsSync(join(out, 'model.onnx')));
  }
});

test('a config.json that lies is refused by predict, evaluate and serve with the field named', async () => {
  const photo = join(f.data, 'Testing/Testing/smoking_0001.jpg');
  const config = readJson(join(run, 'config.json')) as Record<string, unknown>;
  const cases: [string, unknown, RegExp][] = [
    ['no-threshold', { ...config, threshold: undefined }, /config\.json: field 'threshold' is missing$/],
    ['threshold-2', { ...config, threshold: 2 }, /config\.json: field 'threshold' must be <= 1 \(got 2\)$/],
    [
      'threshold-abc',
      { ...config, threshold: 'abc' },
      /config\.json: field 'threshold' must be a number \(got "abc"\)$/,
    ],
    [
      'mean-abc',
      { ...config, preprocess: { ...(config.preprocess as object), mean: 'abc' } },
      /field 'preprocess\.mean' must be a tuple \(got "abc"\)$/,
    ],
    [
      'std-zero',
      { ...config, preprocess: { ...(config.preprocess as object), std: [0, 0, 0] } },
      /field 'preprocess\.std\[0\]' must be > 0 \(got 0\) \(and 2 more problems\)$/,
    ],
    [
      'three-classes',
      { ...config, classes: ['a', 'b', 'c'] },
      /config\.json: lists 3 classes but \S+model\.onnx gives 2 logits$/,
    ],
    ['empty-object', {}, /config\.json: field 'data' is missing \(and \d+ more problems\)$/],
    ['null', null, /config\.json: not a JSON object; /],
    ['array', [], /config\.json: not a JSON object; /],
  ];
  for (const [name, value, message] of cases) {
    const dir = join(f.root, `lying-${name}`);
    cpSync(run, dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(value));
    const [p, e, s] = await Promise.all([
      runCli(['predict', '--model', dir, photo, '--threads', '1']),
      runCli(['evaluate', '--model', dir, '--data', join(f.data, 'Testing'), '--threads', '1']),
      runCli(['serve', '--model', dir, '--port', '0', '--threads', '1']),
    ]);
    for (const r of [p, e, s]) {
      assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
      assert.equal(linesOf(r.stderr).length, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr.trim(), message, name);
    }
  }
});

test('a model.onnx that is not a model is refused naming the file', async () => {
  const dir = join(f.root, 'garbage-model');
  cpSync(run, dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), 'not a model');
  const photo = join(f.data, 'Testing/Testing/smoking_0001.jpg');
  for (const args of [
    ['predict', '--model', dir, photo],
    ['serve', '--model', dir, '--port', '0'],
    ['explain', photo, '--model', dir, '-o', join(dir, 'x.png')],
  ])
    oneLineError(
      await runCli([...args, '--threads', '1']),
      new RegExp(`^smoker-lora: ${dir}/model\\.onnx: `),
    );
});
