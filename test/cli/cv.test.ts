import assert from 'node:assert/strict';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { readJson, runCli, tinyFixture, trainArgs, type Fixture } from './cli-fixture.js';

/* `cv` for real on the tiny set (24 training + 8 validation images, ResNet-18 with random weights). */

interface Summary {
  folder: string;
  images: number;
  perFold: { fold: number; n: number; accuracy: number; keptEpoch: number }[];
  accuracy: { mean: number; sd: number };
  byEpoch: { epoch: number; accuracy: number }[];
  seconds: number;
  heldOut?: { n: number; foldModels: number[]; soup: { accuracy: number }; ensemble: { accuracy: number } };
}

/** `cv` with the tiny set's train flags (the `train` word dropped) and the given extra flags. */
const cvArgs = (f: Fixture, out: string, extra: string[]) => ['cv', ...trainArgs(f, out).slice(1), ...extra];

/** The summary without its wall-clock fields, which no two runs share. */
const numbers = (s: Summary) => ({
  ...s,
  seconds: 0,
  perFold: s.perFold.map((p) => ({ ...p, seconds: 0, history: [] })),
});

test('cv --folds 3: disjoint stratified folds cover the pool, mean ± sd over folds, reruns read the folds back', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'cv');
  const r = await runCli(cvArgs(f, out, ['--folds', '3']));
  assert.equal(r.code, 0, r.stderr);
  const folder = readdirSync(out).find((n) => n.endsWith('-k3-s1-all'));
  assert.ok(folder, `a folder named by the recipe and fold plan in ${readdirSync(out).join(', ')}`);
  const root = join(out, folder);
  const s = readJson(join(root, 'cv.json')) as Summary;
  assert.equal(s.images, 32);
  assert.deepEqual(
    s.perFold.map((p) => p.n),
    [11, 11, 10],
  );
  const mean = s.perFold.reduce((a, p) => a + p.accuracy, 0) / 3;
  assert.ok(Math.abs(s.accuracy.mean - mean) < 1e-12);
  assert.equal(s.byEpoch.length, 2);
  assert.ok(s.perFold.every((p) => p.keptEpoch === 2));
  for (const p of s.perFold) assert.match(r.stdout, new RegExp(`fold ${p.fold}: ${p.n} images, accuracy`));

  // Each fold's held-out images: disjoint, all 32 together, both classes in each.
  const held = s.perFold.map(
    (p) => (readJson(join(root, `fold-${p.fold}`, 'fold-scores.json')) as { images: string[] }).images,
  );
  const all = held.flat();
  assert.equal(new Set(all).size, 32);
  for (const names of held) {
    assert.ok(
      names.some((n) => basename(n).startsWith('smoking')) &&
        names.some((n) => basename(n).startsWith('notsmoking')),
    );
  }

  // Run again: nothing is trained twice (the fold models stay as they were), the numbers are the same.
  const model = join(root, 'fold-1', 'model.onnx');
  const before = statSync(model).mtimeMs;
  const again = await runCli(cvArgs(f, out, ['--folds', '3']));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(statSync(model).mtimeMs, before);
  assert.deepEqual(numbers(readJson(join(root, 'cv.json')) as Summary), numbers(s));

  // With only the folds' scores left (what a results folder commits), the summary is the same again.
  for (const p of s.perFold) {
    const dir = join(root, `fold-${p.fold}`);
    for (const name of readdirSync(dir))
      if (name !== 'fold-scores.json') rmSync(join(dir, name), { recursive: true });
  }
  const scoresOnly = await runCli(cvArgs(f, out, ['--folds', '3']));
  assert.equal(scoresOnly.code, 0, scoresOnly.stderr);
  assert.deepEqual(numbers(readJson(join(root, 'cv.json')) as Summary), numbers(s));
  assert.equal(basename(s.folder), folder);
});

test('cv --pool train: Validation measures each fold model, their soup and their ensemble', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'cv-pool-train');
  const r = await runCli(cvArgs(f, out, ['--folds', '2', '--pool', 'train', '--epochs', '1']));
  assert.equal(r.code, 0, r.stderr);
  const folder = readdirSync(out).find((n) => n.endsWith('-k2-s1-train'))!;
  const s = readJson(join(out, folder, 'cv.json')) as Summary;
  assert.equal(s.images, 24);
  assert.equal(s.heldOut?.n, 8);
  assert.equal(s.heldOut?.foldModels.length, 2);
  for (const a of [s.heldOut!.soup.accuracy, s.heldOut!.ensemble.accuracy]) assert.ok(a >= 0 && a <= 1);
  statSync(join(out, folder, 'soup', 'model.onnx'));
});
