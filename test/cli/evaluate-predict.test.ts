import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { before, test } from 'node:test';
import { predictFiles, type FilePrediction } from '../../src/eval/predict-files.js';
import { SavedModel } from '../../src/run/saved-model.js';
import { Rng } from '../../src/random/rng.js';
import { runTrainJob } from '../../src/jobs/train-job.js';
import { SEED_RECIPE } from '../../src/run/train-config.js';
import { pngHeaderClaiming } from '../helpers/png-header.js';
import { linesOf, readJson, runCli, tinyFixture, type CliResult, type Fixture } from './cli-fixture.js';

interface MetricsJson {
  split: string;
  n: number;
  classes: string[];
  threshold: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  confusion_matrix: number[][];
  per_class: Record<string, { precision: number; recall: number; f1: number; support: number }>;
  roc_auc: number | null;
}

let f: Fixture;
let run: string;

// One trained run (1 epoch, in-process) that every test here evaluates or predicts with.
before(async () => {
  f = await tinyFixture();
  run = join(f.root, 'run');
  await runTrainJob(
    {
      ...SEED_RECIPE,
      data: f.data,
      out: run,
      backbone: 'resnet18',
      weights: f.weights,
      epochs: 1,
      batch: 8,
      threads: 2,
      seed: 1,
    },
    { log: () => {} },
  );
});

const ok = (r: CliResult) => assert.equal(r.code, 0, `exit code ${r.code}\n${r.stderr}`);
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

/** The top-level numbers agree with the confusion matrix (rows: true class, columns: predicted). */
function assertConsistent(m: MetricsJson, n: number) {
  const [[tn, fp], [fn, tp]] = m.confusion_matrix;
  assert.equal(m.n, n);
  assert.equal(tn + fp + fn + tp, n);
  assert.deepEqual(m.classes, ['notsmoking', 'smoking']);
  close(m.accuracy, (tn + tp) / n, 'accuracy');
  close(m.precision, tp + fp === 0 ? 0 : tp / (tp + fp), 'precision');
  close(m.recall, tp + fn === 0 ? 0 : tp / (tp + fn), 'recall');
  close(
    m.f1,
    m.precision + m.recall === 0 ? 0 : (2 * m.precision * m.recall) / (m.precision + m.recall),
    'f1',
  );
  const s = m.per_class.smoking;
  assert.deepEqual([s.precision, s.recall, s.f1, s.support], [m.precision, m.recall, m.f1, fn + tp]);
  assert.equal(m.per_class.notsmoking.support, tn + fp);
}

const evaluate = (args: string[]) => runCli(['evaluate', '--model', run, '--threads', '2', ...args]);

test('evaluate on the Kaggle root, its Testing folder and Testing/Testing: the same consistent metrics.json', async () => {
  const outs = ['root', 'outer', 'inner'].map((n) => join(f.root, `eval-${n}`));
  const results = await Promise.all([
    evaluate(['--data', f.data, '--out', outs[0]]),
    evaluate(['--data', join(f.data, 'Testing'), '--out', outs[1]]),
    evaluate(['--data', join(f.data, 'Testing/Testing'), '--out', outs[2]]),
  ]);
  const metrics = results.map((r, i) => {
    ok(r);
    assert.match(r.stdout, new RegExp(`\\nwrote ${outs[i]}/metrics\\.json and ${outs[i]}/report\\.md\\n$`));
    const m = readJson(join(outs[i], 'metrics.json')) as MetricsJson;
    assertConsistent(m, 8);
    assert.equal(m.threshold, 0.5, "the run's threshold");
    return m;
  });
  assert.deepEqual(
    metrics.map((m) => m.split),
    ['test', 'Testing', 'Testing'],
  );
  // The same 8 images, so the same numbers.
  for (const m of metrics.slice(1)) assert.deepEqual({ ...m, split: 'test' }, metrics[0]);
  assert.deepEqual(
    readdirSync(outs[0]).filter((n) => !n.endsWith('.png')),
    ['metrics.json', 'report.md'],
  );
});

/** P(smoking) of each file from `predict --json`, by absolute path. */
async function predictedProbs(inputs: string[]): Promise<Map<string, number>> {
  const r = await runCli(['predict', '--model', run, '--json', '--threads', '2', ...inputs], { cwd: f.root });
  ok(r);
  return new Map(
    linesOf(r.stdout).map((l) => {
      const p = JSON.parse(l) as FilePrediction;
      return [join(f.root, p.path), p.probability!];
    }),
  );
}

test("--threshold decides as predict's probabilities say; --target-recall reaches the recall on validation", async () => {
  const testDir = join(f.data, 'Testing/Testing');
  const probs = await predictedProbs([testDir]);
  assert.equal(probs.size, 8);
  // A threshold halfway between two middle probabilities: some images on each side, far from both.
  const sorted = [...new Set(probs.values())].sort((a, b) => a - b);
  assert.ok(sorted.length >= 4, `distinct probabilities: ${sorted}`);
  const t = (sorted[sorted.length >> 1] + sorted[(sorted.length >> 1) - 1]) / 2;
  const expected = [
    [0, 0],
    [0, 0],
  ];
  for (const [path, p] of probs)
    expected[relative(testDir, path).startsWith('smoking_') ? 1 : 0][p >= t ? 1 : 0]++;

  const [byThreshold, byRecall, both] = await Promise.all([
    evaluate(['--data', testDir, '--threshold', String(t), '--out', join(f.root, 'eval-t')]),
    evaluate(['--data', f.data, '--split', 'val', '--target-recall', '1', '--out', join(f.root, 'eval-r')]),
    evaluate(['--data', testDir, '--threshold', '0.3', '--target-recall', '0.9']),
  ]);
  ok(byThreshold);
  const m = readJson(join(f.root, 'eval-t/metrics.json')) as MetricsJson;
  assert.equal(m.threshold, t);
  assert.deepEqual(m.confusion_matrix, expected);
  assertConsistent(m, 8);

  ok(byRecall);
  const line = /^threshold (\S+) reaches recall ≥ 1 on the run's validation split \(8 images\)$/m.exec(
    byRecall.stdout,
  );
  assert.ok(line, byRecall.stdout);
  const r = readJson(join(f.root, 'eval-r/metrics.json')) as MetricsJson;
  assert.equal(r.split, 'val');
  assert.equal(r.threshold.toFixed(4), line[1]);
  assert.equal(r.recall, 1, 'tuned on this very split, so the recall is reached');
  assertConsistent(r, 8);

  assert.equal(both.code, 1);
  assert.equal(both.stderr, 'smoker-lora: --threshold and --target-recall: give one of them\n');
});

test("--target-recall tunes on the run's own validation split, custom split fractions included", async () => {
  // One flat folder of the 32 training and validation images, split 50/30/20 by the run: 5 of each
  // class for validation (the default 64/16/20 would give 3).
  const flat = join(f.root, 'flat');
  mkdirSync(flat);
  for (const s of ['Training/Training', 'Validation/Validation'])
    for (const name of readdirSync(join(f.data, s)))
      copyFileSync(join(f.data, s, name), join(flat, name.replace('_', `_${s[0]}`)));
  const out = join(f.root, 'flat-run');
  const args = ['--data', flat, '--backbone', 'resnet18', '--weights', f.weights, '--out', out];
  ok(
    await runCli([
      'train',
      ...args,
      '--epochs',
      '1',
      '--batch',
      '8',
      '--threads',
      '2',
      '--split',
      '0.5,0.3,0.2',
    ]),
  );
  const r = await runCli([
    'evaluate',
    '--model',
    out,
    '--data',
    flat,
    '--target-recall',
    '1',
    '--threads',
    '2',
  ]);
  ok(r);
  assert.match(r.stdout, /^threshold \S+ reaches recall ≥ 1 on the run's validation split \(10 images\)$/m);
});

test('evaluate names a missing or unfinished run folder in one line', async () => {
  const missing = join(f.root, 'no-run');
  const unfinished = join(f.root, 'unfinished');
  mkdirSync(unfinished);
  copyFileSync(join(run, 'config.json'), join(unfinished, 'config.json'));
  const [a, b, c] = await Promise.all([
    runCli(['evaluate', '--model', missing, '--data', f.data]),
    runCli(['evaluate', '--model', unfinished, '--data', f.data]),
    runCli(['evaluate', '--model', run, '--data', f.data, '--target-recall', '0']),
  ]);
  for (const r of [a, b, c]) {
    assert.equal(r.code, 1, r.stderr);
    assert.equal(linesOf(r.stderr).length, 1, r.stderr);
  }
  assert.equal(
    a.stderr,
    `smoker-lora: --model ${missing}: cannot read ${missing}/config.json (ENOENT); pass a run folder written by 'smoker-lora train'\n`,
  );
  assert.equal(
    b.stderr,
    `smoker-lora: --model ${unfinished}: has no model.onnx; the run did not finish (continue it with 'smoker-lora train --resume')\n`,
  );
  assert.match(c.stderr, /^error: option '--target-recall <r>' argument '0' is invalid\. /);
});

test('predict labels files, folders and a quoted glob; --json and --csv parse; time is per batch', async () => {
  const file = join(f.data, 'Testing/Testing/smoking_0001.jpg');
  const folder = join(f.data, 'Validation/Validation');
  const glob = join(f.data, 'Training/Training/notsmoking_000*.jpg'); // no shell: predict expands it
  const expected = [
    file,
    ...readdirSync(folder).map((n) => join(folder, n)),
    ...['0002', '0004', '0006', '0008'].map((k) => join(f.data, `Training/Training/notsmoking_${k}.jpg`)),
  ].sort();
  const args = ['predict', '--model', run, '--threads', '2', '--batch', '4', file, folder, glob];
  const [json, csv, table] = await Promise.all(
    [['--json'], ['--csv'], []].map((extra) => runCli([...args, ...extra], { cwd: f.root })),
  );
  for (const r of [json, csv, table]) {
    ok(r);
    assert.equal(r.stderr, '');
  }

  const rows = linesOf(json.stdout).map((l) => JSON.parse(l) as FilePrediction);
  assert.deepEqual(
    rows.map((p) => join(f.root, p.path)),
    expected,
    'every file once, sorted, relative to the working folder',
  );
  for (const p of rows) {
    assert.deepEqual(Object.keys(p).sort(), ['label', 'ms', 'path', 'probability']);
    assert.ok(p.probability! >= 0 && p.probability! <= 1);
    assert.equal(p.label, p.probability! >= 0.5 ? 'smoking' : 'notsmoking');
  }
  // One model call per batch of 4: the images of a batch share its time per image, batches differ.
  const ms = rows.map((p) => p.ms);
  ms.forEach((v, i) => assert.equal(v, ms[i - (i % 4)], `row ${i} is timed with its batch`));
  const perBatch = ms.filter((_, i) => i % 4 === 0);
  assert.equal(perBatch.length, Math.ceil(expected.length / 4));
  assert.equal(new Set(perBatch).size, perBatch.length);

  const csvLines = linesOf(csv.stdout);
  assert.equal(csvLines[0], 'path,label,probability,ms,error');
  assert.equal(csvLines.length, expected.length + 1);
  csvLines.slice(1).forEach((line, i) => {
    const [path, label, probability, msCell, error] = line.split(',');
    assert.equal(path, rows[i].path);
    assert.equal(label, rows[i].label);
    assert.equal(probability, rows[i].probability!.toFixed(6));
    assert.ok(Number(msCell) >= 0);
    assert.equal(error, '');
  });

  const tableLines = linesOf(table.stdout);
  assert.equal(tableLines[0], 'file  label  P(smoking)  time/image');
  assert.equal(tableLines.length, expected.length + 1);
  tableLines.slice(1).forEach((line, i) => {
    assert.match(line, /^\S+ {2}(smoking {3}|notsmoking) {2}\d\.\d{4} {2}\d+\.\d ms$/);
    assert.ok(line.startsWith(`${rows[i].path}  ${rows[i].label}`));
  });
});

test('predict: a bad file gets an error row and exit code 1 while the others are labelled', async () => {
  const dir = join(f.root, 'mixed');
  mkdirSync(dir);
  for (const n of ['smoking_0001.jpg', 'notsmoking_0002.jpg', 'smoking_0003.jpg'])
    copyFileSync(join(f.data, 'Testing/Testing', n), join(dir, n));
  const rng = new Rng(9);
  writeFileSync(join(dir, 'broken.jpg'), Buffer.from(Array.from({ length: 3000 }, () => rng.int(256))));
  writeFileSync(join(dir, 'empty.jpg'), '');
  writeFileSync(join(dir, 'huge.png'), pngHeaderClaiming(30000, 30000));
  const r = await runCli(['predict', '--model', run, '--json', '--threads', '2', dir], { cwd: f.root });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'smoker-lora: 3 of 6 files could not be read as images\n');
  const rows = new Map(
    linesOf(r.stdout).map((l) => {
      const p = JSON.parse(l) as FilePrediction;
      return [p.path.slice('mixed/'.length), p];
    }),
  );
  assert.equal(rows.size, 6);
  const errors = Object.fromEntries([...rows].filter(([, p]) => p.error).map(([n, p]) => [n, p.error]));
  assert.deepEqual(errors, {
    'broken.jpg': `${join(dir, 'broken.jpg')}: not an image, or a format that cannot be read`,
    'empty.jpg': `${join(dir, 'empty.jpg')}: empty file, not an image`,
    'huge.png': `${join(dir, 'huge.png')}: image too large (30000x30000, over 50 megapixels)`,
  });
  for (const n of ['smoking_0001.jpg', 'notsmoking_0002.jpg', 'smoking_0003.jpg']) {
    const p = rows.get(n)!;
    assert.equal(p.error, undefined, n);
    assert.ok(p.label === 'smoking' || p.label === 'notsmoking', n);
    assert.ok(p.probability! >= 0 && p.probability! <= 1, n);
  }
});

test('100 images are ceil(100/batch) model calls, each image timed with its batch', async () => {
  const dir = join(f.root, 'hundred');
  mkdirSync(dir);
  const sources = ['Training/Training', 'Validation/Validation', 'Testing/Testing'].flatMap((s) =>
    readdirSync(join(f.data, s)).map((n) => join(f.data, s, n)),
  );
  const paths = Array.from({ length: 100 }, (_, i) => {
    const path = join(dir, `photo_${String(i).padStart(3, '0')}.jpg`);
    copyFileSync(sources[i % sources.length], path);
    return path;
  });
  const model = await SavedModel.load(run, { threads: 2 });
  // Count the session calls by wrapping the model's one inference method.
  const calls: number[] = [];
  const logits = model.logits.bind(model);
  model.logits = (input) => {
    calls.push(input.shape[0]);
    return logits(input);
  };
  const rows: FilePrediction[] = [];
  try {
    for await (const p of predictFiles(model, paths, { batch: 32, threshold: 0.5, tta: false })) rows.push(p);
  } finally {
    await model.release();
  }
  assert.deepEqual(calls, [32, 32, 32, 4]);
  assert.deepEqual(
    rows.map((p) => p.path),
    paths,
  );
  assert.ok(rows.every((p) => p.label && !p.error));
  const perBatch = [0, 32, 64, 96].map((start) => new Set(rows.slice(start, start + 32).map((p) => p.ms)));
  assert.deepEqual(
    perBatch.map((s) => s.size),
    [1, 1, 1, 1],
  );
  // The same file gives the same probability in any batch.
  const bySource = new Map<string, number>();
  rows.forEach((p, i) => {
    const src = sources[i % sources.length];
    if (!bySource.has(src)) bySource.set(src, p.probability!);
    else assert.ok(Math.abs(bySource.get(src)! - p.probability!) < 1e-6, src);
  });
});

test('predict stops quietly when its reader closes the pipe (| head -1)', async () => {
  let closed = false;
  const r = await runCli(
    ['predict', '--model', run, '--batch', '1', '--threads', '2', join(f.data, 'Training/Training')],
    {
      onLine(_line, child) {
        if (closed) return;
        closed = true;
        child.stdout!.destroy();
      },
    },
  );
  assert.ok(closed);
  assert.equal(r.stderr, '', 'no EPIPE stack trace');
  assert.equal(r.code, 0);
});
