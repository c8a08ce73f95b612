import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { historyNumbers, oneLineError, readJson, runCli, tinyFixture, trainArgs } from './cli-fixture.js';

/* The recipe levers of the accuracy work, each run for real on the tiny set: they train, resume exactly and write what they say. */

test("EMA, SWA, LP-FT, mixup, CutMix, crop and TrivialAugment runs finish; a 2-epoch EMA run is the 3-epoch one's start; an EMA run interrupted and resumed ends as an uninterrupted one", async () => {
  const f = await tinyFixture();
  const runs = {
    ema: ['--ema', '0.8', '--keep', 'last', '--epochs', '3'],
    emaShort: ['--ema', '0.8', '--keep', 'last', '--epochs', '2'],
    swa: ['--swa-epochs', '2', '--keep', 'last', '--epochs', '3'],
    lp: ['--lp-epochs', '1', '--epochs', '2'],
    mix: ['--mixup', '0.4', '--cutmix', '1', '--epochs', '2'],
    crop: ['--crop-scale', '0.5,1', '--epochs', '2'],
    trivial: ['--trivial-augment', '--epochs', '2'],
  };
  for (const [name, extra] of Object.entries(runs)) {
    const r = await runCli(trainArgs(f, join(f.root, `lever-${name}`), extra));
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.ok(existsSync(join(f.root, `lever-${name}`, 'model.onnx')), name);
  }
  const augment = (name: string) =>
    (readJson(join(f.root, `lever-${name}`, 'config.json')) as { augment: Record<string, unknown> }).augment;
  assert.deepEqual(augment('crop').cropScale, [0.5, 1]);
  assert.ok(!('cropScale' in augment('mix')), 'absent unless given');
  for (const [file, key] of [
    ['config.json', 'dora'],
    ['adapter_config.json', 'use_dora'],
  ])
    assert.ok(
      !(key in (readJson(join(f.root, 'lever-mix', file)) as object)),
      `${file}: no ${key} unless given`,
    );
  assert.equal(augment('trivial').trivialAugment, true);
  assert.ok(!('trivialAugment' in augment('crop')), 'absent unless given');
  // At a constant rate nothing depends on the epoch count, so a shorter run is the longer one's start:
  // the by-epoch CV of a long run stands for every shorter one (the demo's epoch count is read off it).
  assert.deepEqual(
    historyNumbers(join(f.root, 'lever-emaShort')),
    historyNumbers(join(f.root, 'lever-ema')).slice(0, 2),
  );
  // Interrupt the EMA run mid-epoch 2, resume it, and compare with the uninterrupted one.
  const out = join(f.root, 'lever-ema-resumed');
  let sent = false;
  const first = await runCli(trainArgs(f, out, runs.ema), {
    onLine(line, child) {
      if (!sent && line.startsWith('epoch 2/3 step 1/3')) {
        sent = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.equal(first.code, 130, first.stderr);
  const again = await runCli([...trainArgs(f, out, runs.ema), '--resume']);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(historyNumbers(out), historyNumbers(join(f.root, 'lever-ema')));
  assert.deepEqual(readJson(join(out, 'metrics.json')), readJson(join(f.root, 'lever-ema', 'metrics.json')));
});

test('a --dora run trains, predicts, and records DoRA in config.json and adapter_config.json', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'dora');
  const r = await runCli(trainArgs(f, out, ['--dora']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /layer4\.1\.conv2 +\[8,512,3,3\] +\[512,8,1,1\] +41472/);
  assert.equal((readJson(join(out, 'config.json')) as { dora?: boolean }).dora, true);
  assert.equal((readJson(join(out, 'adapter_config.json')) as { use_dora?: boolean }).use_dora, true);
  const p = await runCli(['predict', '--model', out, join(f.data, 'Testing/Testing'), '--threads', '2']);
  assert.equal(p.code, 0, p.stderr);
});

test('a --rank-pattern run gives the convs it matches their own rank, records it as PEFT rank_pattern, and exports it; a bad one is one line', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'rank-pattern');
  const r = await runCli(
    trainArgs(f, out, ['--epochs', '1', '--rank-pattern', String.raw`layer4\.\d\.conv2=4`]),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /layer4\.1\.conv2 +\[4,512,3,3\] +\[512,4,1,1\] +20480/);
  assert.match(r.stdout, /layer4\.1\.conv1 +\[8,512,3,3\] +\[512,8,1,1\] +40960/);
  const pattern = { [String.raw`layer4\.\d\.conv2`]: 4 };
  assert.deepEqual((readJson(join(out, 'config.json')) as { rankPattern?: unknown }).rankPattern, pattern);
  assert.deepEqual(
    (readJson(join(out, 'adapter_config.json')) as { rank_pattern?: unknown }).rank_pattern,
    pattern,
  );
  const peft = join(f.root, 'rank-pattern-peft');
  const e = await runCli(['export', '--model', out, '--format', 'peft', '--out', peft]);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(
    (readJson(join(peft, 'adapter_config.json')) as { rank_pattern?: unknown }).rank_pattern,
    pattern,
  );
  oneLineError(
    await runCli(trainArgs(f, join(f.root, 'rank-pattern-bad'), ['--rank-pattern', 'conv2'])),
    /--rank-pattern.*'conv2' is not <regex>=<n>/,
  );
});

test('--all-labelled trains on training and validation images with no validation, and writes no metrics', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'all-labelled');
  const r = await runCli(trainArgs(f, out, ['--all-labelled']));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /training and validation images pooled \(--all-labelled\)/);
  assert.match(r.stdout, /epoch 2\/2: train loss \S+ acc \S+ \| val loss - acc - \|/);
  assert.ok(existsSync(join(out, 'model.onnx')) && !existsSync(join(out, 'metrics.json')));
  const history = readJson(join(out, 'history.json')) as { valAcc: number | null }[];
  assert.deepEqual(
    history.map((h) => h.valAcc),
    [null, null],
  );
  const config = readJson(join(out, 'config.json')) as { allLabelled: boolean; keep: string };
  assert.equal(config.allLabelled, true);
  // It predicts like any run.
  const p = await runCli(['predict', '--model', out, join(f.data, 'Testing/Testing'), '--threads', '2']);
  assert.equal(p.code, 0, p.stderr);
});
