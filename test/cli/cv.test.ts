import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configFromOptions } from '../../src/cli/commands/train.js';
import { cvCommand } from '../../src/cli/commands/cv.js';
import { cvFolder, cvRecipe } from '../../src/jobs/cv.js';
import { DEMO_RECIPE } from '../../src/jobs/demo.js';
import { readJson, runCli, tinyFixture, trainArgs, type Fixture } from './cli-fixture.js';

/* `cv` for real on the tiny set (24 training + 8 validation images, ResNet-18 with random weights). */

interface Summary {
  folder: string;
  images: number;
  perFold: { fold: number; n: number; accuracy: number; keptEpoch: number; seconds: number }[];
  accuracy: { mean: number; sd: number };
  byEpoch: { epoch: number; accuracy: number }[];
  seconds: number;
  heldOut?: { n: number; foldModels: number[]; soup: { accuracy: number }; ensemble: { accuracy: number } };
}

/** `cv` with the tiny set's train flags (the `train` word dropped) and the given extra flags. */
const cvArgs = (f: Fixture, out: string, extra: string[]) => ['cv', ...trainArgs(f, out).slice(1), ...extra];

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

  // Run again: nothing is trained twice (the fold models stay as they were), the summary is the same,
  // its time too (the folds' training time, read back with them).
  assert.equal(
    s.seconds,
    s.perFold.reduce((t, p) => t + p.seconds, 0),
  );
  const model = join(root, 'fold-1', 'model.onnx');
  const before = statSync(model).mtimeMs;
  const again = await runCli(cvArgs(f, out, ['--folds', '3']));
  assert.equal(again.code, 0, again.stderr);
  assert.equal(statSync(model).mtimeMs, before);
  assert.deepEqual(readJson(join(root, 'cv.json')), s);

  // With only the folds' scores left (what a results folder commits), the summary is the same again.
  for (const p of s.perFold) {
    const dir = join(root, `fold-${p.fold}`);
    for (const name of readdirSync(dir))
      if (name !== 'fold-scores.json') rmSync(join(dir, name), { recursive: true });
  }
  const scoresOnly = await runCli(cvArgs(f, out, ['--folds', '3']));
  assert.equal(scoresOnly.code, 0, scoresOnly.stderr);
  assert.deepEqual(readJson(join(root, 'cv.json')), s);
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

test("the recorded results/cv folders are still the ones their recipes' flags name", () => {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  // The command of results/cv/README.md, with the flags of the defaults and of the demo's recipe.
  const folder = (recipe: string[]) => {
    let opts: Record<string, unknown> = {};
    cvCommand()
      .action((o: Record<string, unknown>) => void (opts = o))
      .parse(
        [
          ...['--data', '/work/shared/data/smoking'],
          ...['--backbone', '/work/shared/models/mobilenet_v2_1.0_224/model.onnx'],
          ...['--folds', '5', '--seed', '42', '--threads', '2', '--out', 'results/cv', ...recipe],
        ],
        { from: 'user' },
      );
    const c = cvRecipe(configFromOptions(opts, opts.out));
    return cvFolder('results/cv', c, { folds: 5, foldSeed: undefined, pool: 'all' });
  };
  const demo = ['--lr', '3e-4', '--rank', '16', '--alpha', '32', '--keep', 'last'];
  const want = {
    defaults: 'results/cv/e87af093e88e83e2-k5-s42-all',
    demo: 'results/cv/98a82cb7aa329128-k5-s42-all',
    demo288: 'results/cv/9bc085bdbcf800ec-k5-s42-all',
    demoEma: 'results/cv/e799b1dc21748515-k5-s42-all',
    demoLr: 'results/cv/8631d4291c2361c9-k5-s42-all',
  };
  assert.deepEqual(
    {
      defaults: folder([]),
      demo: folder(demo),
      demo288: folder([...demo, '--image-size', '288']),
      demoEma: folder([...demo, '--image-size', '288', '--ema', '0.99']),
      demoLr: folder([...demo, '--image-size', '288', '--ema', '0.99', '--lr', '6e-4']),
    },
    want,
  );
  for (const f of Object.values(want)) assert.ok(existsSync(join(repo, f)), f);
  // The demo trains the recipe whose cross-validation is recorded (its final fit aside).
  const demoRecipe = cvRecipe({
    ...DEMO_RECIPE,
    data: '/work/shared/data/smoking',
    backbone: '/work/shared/models/mobilenet_v2_1.0_224/model.onnx',
    out: 'results/cv',
    threads: 2,
  });
  assert.equal(
    cvFolder('results/cv', demoRecipe, { folds: 5, foldSeed: undefined, pool: 'all' }),
    want.demoLr,
  );
  // An option added since enters the hash only when given.
  const cropped = folder([...demo, '--image-size', '288', '--crop-scale', '0.5,1']);
  assert.match(cropped, /^results\/cv\/[0-9a-f]{16}-k5-s42-all$/);
  assert.notEqual(cropped, want.demo288);
  const dora = folder([...demo, '--dora']);
  assert.match(dora, /^results\/cv\/[0-9a-f]{16}-k5-s42-all$/);
  assert.notEqual(dora, want.demo);
  const trivial = folder([...demo, '--image-size', '288', '--trivial-augment']);
  assert.match(trivial, /^results\/cv\/[0-9a-f]{16}-k5-s42-all$/);
  assert.notEqual(trivial, want.demo288);
});
