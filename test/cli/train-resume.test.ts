import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  historyNumbers,
  linesOf,
  oneLineError,
  readCheckpoint,
  readJson,
  readSaved,
  runCli,
  tinyFixture,
  trainArgs,
  type CliResult,
} from './cli-fixture.js';

/*
 * The tests of this file run in order and share run folders: an uninterrupted run, then one that is
 * interrupted with Ctrl-C, refused twice, resumed onto a full disk and resumed again, ending equal to
 * the uninterrupted one.
 */

const ok = (r: CliResult) => assert.equal(r.code, 0, `exit code ${r.code}\n${r.stderr}`);

/** The files of a folder with their bytes, to prove a refused or failed run changed nothing. */
function snapshot(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).map((name) => [name, readFileSync(join(dir, name))]));
}

test('an uninterrupted run writes the run folder and no checkpoint', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'straight');
  const r = await runCli(trainArgs(f, out));
  ok(r);
  // Plain progress lines on a pipe: every step of the 3-step epochs, then the epoch summary.
  assert.deepEqual(
    linesOf(r.stdout)
      .filter((l) => /^epoch \d/.test(l))
      .map((l) => l.replace(/: train .*/, '').replace(/ loss .*/, '')),
    [
      'epoch 1/2 step 1/3',
      'epoch 1/2 step 2/3',
      'epoch 1/2 step 3/3',
      'epoch 1/2',
      'epoch 2/2 step 1/3',
      'epoch 2/2 step 2/3',
      'epoch 2/2 step 3/3',
      'epoch 2/2',
    ],
  );
  for (const file of [
    'config.json',
    'model.onnx',
    'adapter_model.safetensors',
    'adapter_config.json',
    'history.json',
    'history.csv',
    'metrics.json',
    'report.md',
  ])
    assert.ok(existsSync(join(out, file)), file);
  assert.ok(!existsSync(join(out, 'checkpoint.safetensors')));
  assert.equal(historyNumbers(out).length, 2);
});

test('the same seed gives bitwise the same history and metrics; another seed does not', async () => {
  const f = await tinyFixture();
  const [again, seed2] = [join(f.root, 'straight-again'), join(f.root, 'seed-2')];
  // One epoch is enough to tell seeds apart; with a constant LR it is the first epoch of a 2-epoch run.
  const [a, b] = await Promise.all([
    runCli(trainArgs(f, again)),
    runCli(trainArgs(f, seed2, ['--seed', '2', '--epochs', '1'])),
  ]);
  ok(a);
  ok(b);
  const first = join(f.root, 'straight');
  assert.deepEqual(historyNumbers(again), historyNumbers(first));
  assert.deepEqual(readJson(join(again, 'metrics.json')), readJson(join(first, 'metrics.json')));
  assert.deepEqual(readFileSync(join(again, 'model.onnx')), readFileSync(join(first, 'model.onnx')));

  const [h1, h2] = [historyNumbers(first)[0], historyNumbers(seed2)[0]];
  for (const k of ['trainLoss', 'valLoss'] as const) assert.notEqual(h2[k], h1[k], k);
  const [m1, m2] = [join(first, 'metrics.json'), join(seed2, 'metrics.json')].map(
    (p) => readJson(p) as { roc: { fpr: number[]; tpr: number[] } },
  );
  assert.notDeepEqual(m2, m1);
});

test('Ctrl-C mid-epoch exits 130 with a checkpoint; a new run or other settings in that folder are refused', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'interrupted');
  let sent = false;
  const r = await runCli(trainArgs(f, out), {
    onLine(line, child) {
      if (!sent && line.startsWith('epoch 1/2 step 1/3')) {
        sent = true;
        child.kill('SIGINT');
      }
    },
  });
  assert.ok(sent, `no first step line in:\n${r.stdout}`);
  assert.equal(r.code, 130, `exit code\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /\ninterrupt: finishing this step and saving a checkpoint/);
  assert.match(
    r.stdout,
    /\nstopped: checkpoint saved in \S+; continue with the same command plus --resume\n$/,
  );
  const ckpt = await readCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.equal(ckpt.progress.epoch, 0, 'stopped in the first epoch');
  assert.ok(ckpt.progress.batch >= 1 && ckpt.progress.batch <= 3, `batch ${ckpt.progress.batch}`);
  assert.deepEqual(ckpt.progress.history, []);
  assert.ok(!existsSync(join(out, 'model.onnx')));

  const before = snapshot(out);
  const [fresh, other] = await Promise.all([
    runCli(trainArgs(f, out)),
    runCli(trainArgs(f, out, ['--resume', '--lr', '0.001'])),
  ]);
  oneLineError(
    fresh,
    /^smoker-lora: --out \S+: holds an unfinished run; pass --resume to continue it, or choose another folder$/,
  );
  oneLineError(
    other,
    /^smoker-lora: --resume: \S+checkpoint\.safetensors was made with other settings; pass the options the run was started with, or start a new run folder$/,
  );
  assert.deepEqual(snapshot(out), before, 'the refused runs left the folder as it was (config.json too)');

  // evaluate and predict need the finished model.
  const ev = await runCli(['evaluate', '--model', out, '--data', f.data]);
  oneLineError(
    ev,
    /^smoker-lora: --model \S+: has no model\.onnx; the run did not finish \(continue it with 'smoker-lora train --resume'\)$/,
  );
});

test('a full disk while saving fails with one line and keeps the checkpoint; --resume then finishes', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'interrupted');
  // Under a 20 MiB file size limit the checkpoints (2.6 MB) and the adapter save, but the merged
  // model.onnx (45 MB) cannot: EFBIG, as a full disk would give ENOSPC.
  const full = await runCli(trainArgs(f, out, ['--resume']), { fileSizeLimitKiB: 20 * 1024 });
  oneLineError(full, /^smoker-lora: \S+\/model\.onnx: could not save: EFBIG: file too large, write$/);
  const files = readdirSync(out);
  assert.ok(!files.includes('model.onnx'));
  assert.deepEqual(
    files.filter((n) => n.endsWith('.tmp')),
    [],
    'no temp file left behind',
  );
  const ckpt = await readCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.equal(ckpt.progress.epoch, 2, 'both epochs are in the checkpoint');
  assert.equal(ckpt.progress.history.length, 2);
  const adapter = await readSaved(join(out, 'adapter_model.safetensors'));
  assert.ok(adapter.finite && adapter.names.length > 0);

  const done = await runCli(trainArgs(f, out, ['--resume']));
  ok(done);
  assert.ok(!existsSync(join(out, 'checkpoint.safetensors')));
  const straight = join(f.root, 'straight');
  assert.deepEqual(historyNumbers(out), historyNumbers(straight));
  assert.deepEqual(readJson(join(out, 'metrics.json')), readJson(join(straight, 'metrics.json')));
  assert.deepEqual(readFileSync(join(out, 'model.onnx')), readFileSync(join(straight, 'model.onnx')));
});

test('a finished run folder is neither overwritten nor resumed', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'straight');
  const before = snapshot(out);
  const [fresh, resume] = await Promise.all([
    runCli(trainArgs(f, out)),
    runCli(trainArgs(f, out, ['--resume'])),
  ]);
  oneLineError(
    fresh,
    /^smoker-lora: --out \S+: holds a finished run; choose another folder or delete this one$/,
  );
  oneLineError(
    resume,
    /^smoker-lora: --resume: \S+ holds no unfinished run \(no checkpoint\.safetensors\); that run finished$/,
  );
  assert.deepEqual(snapshot(out), before);
});

test('a diverging run stops with exit 1 and keeps the last good checkpoint and best adapter', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'diverged');
  // SGD with momentum 0.9 on this set: at lr 0.06 the first epoch ends well and the second blows up
  // (its train loss passes 1e20 and its validation loss is NaN); 0.04 diverges in epoch 4, 0.25 in
  // epoch 1. The checkpoint and adapter must then be epoch 1's, not the diverged epoch's.
  const r = await runCli(trainArgs(f, out, ['--optimizer', 'sgd', '--lr', '0.06', '--epochs', '4']));
  oneLineError(
    r,
    /^smoker-lora: training diverged: the (loss|validation loss) is (NaN|-?Infinity) (at|after) epoch [2-4]\b.*; the last checkpoint and the best adapter are kept\. Lower --lr or set --clip-norm$/,
  );
  assert.equal(r.stdout.match(/^epoch 1\/4: train .* \*best /m)?.length, 1, 'epoch 1 was good');
  const ckpt = await readCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.ok(ckpt.progress.epoch >= 1, 'a checkpoint from a finished epoch');
  assert.ok(
    [...ckpt.params.values()].every((p) => p.every(Number.isFinite)),
    'its weights are finite',
  );
  for (const h of ckpt.progress.history)
    assert.ok(Number.isFinite(h.valLoss) && Number.isFinite(h.trainLoss));
  const adapter = await readSaved(join(out, 'adapter_model.safetensors'));
  assert.ok(adapter.finite, 'the best adapter is finite');
  assert.ok(existsSync(join(out, 'adapter_config.json')));
  assert.ok(!existsSync(join(out, 'model.onnx')));
});
