import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configFromOptions } from '../../src/cli/commands/train.js';
import { cvCommand } from '../../src/cli/commands/cv.js';
import { cvFolder, cvRecipe } from '../../src/jobs/cv.js';
import { DEMO_RECIPE } from '../../src/jobs/demo.js';
import type { SeedsSummary } from '../../src/jobs/cv-seeds.js';
import type { FoldScores } from '../../src/jobs/cv.js';
import { oneLineError, readJson, runCli, tinyFixture, trainArgs, type Fixture } from './cli-fixture.js';

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

test('cv --seeds: each seed on the same folds, their ensemble the mean probability, their soup kept with its scores', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'cv-seeds');
  const args = cvArgs(f, out, ['--folds', '2', '--epochs', '1', '--seeds', '1,2']);
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const folder = readdirSync(out).find((n) => n.endsWith('-k2-s1-all-seeds-1_2'));
  assert.ok(folder, readdirSync(out).join(', '));
  const file = join(out, folder, 'seeds.json');
  const s = readJson(file) as SeedsSummary;
  // Each seed is its own cv, on the folds the first seed made.
  const runs = s.perSeed.map(
    (p) => readJson(join(p.folder, 'cv.json')) as Summary & { recipe: { seed: number }; foldSeed: number },
  );
  assert.deepEqual(
    runs.map((c) => [c.recipe.seed, c.foldSeed]),
    [
      [1, 1],
      [2, 1],
    ],
  );
  assert.deepEqual(
    s.perSeed.map((p) => p.accuracy),
    runs.map((c) => c.accuracy),
  );
  for (const k of [1, 2]) {
    const scores = s.perSeed.map(
      (p) => readJson(join(p.folder, `fold-${k}`, 'fold-scores.json')) as FoldScores,
    );
    assert.deepEqual(scores[0].images, scores[1].images);
    const { labels } = scores[0].scored;
    const right = labels.filter(
      (y, i) => ((scores[0].scored.probs[i] + scores[1].scored.probs[i]) / 2 >= 0.5 ? 1 : 0) === y,
    );
    assert.equal(s.perFold[k - 1].ensemble.accuracy, right.length / labels.length);
    statSync(join(out, folder, `fold-${k}`, 'model.onnx'));
    const soup = readJson(join(out, folder, `fold-${k}`, 'fold-scores.json')) as FoldScores;
    assert.deepEqual(soup.images, scores[0].images);
    assert.ok(s.perFold[k - 1].soup!.accuracy >= 0 && s.perFold[k - 1].soup!.accuracy <= 1);
  }
  assert.match(r.stdout, /2 training seeds of one recipe on the same 2 folds \(seeded 1\)/);

  // With only the scores left (the seeds' folds and the soups), the summary is the same.
  for (const dir of [...s.perSeed.map((p) => p.folder), join(out, folder)])
    for (const k of [1, 2])
      for (const name of readdirSync(join(dir, `fold-${k}`)))
        if (name !== 'fold-scores.json') rmSync(join(dir, `fold-${k}`, name), { recursive: true });
  const again = await runCli(args);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(readJson(file), s);
  // Without the soup's scores as well, it says why there is no soup.
  rmSync(join(out, folder, 'fold-1', 'fold-scores.json'));
  const noSoup = await runCli(args);
  assert.equal(noSoup.code, 0, noSoup.stderr);
  assert.match(noSoup.stdout, /no soup: .*fold-1 holds only its scores/);

  oneLineError(await runCli(cvArgs(f, out, ['--seeds', '3'])), /--seeds 3: give two or more different seeds/);
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
  // The demo's recipe over three seeds (cv --seeds 42,1,2), its seeds' folders among the above's kind.
  assert.ok(existsSync(join(repo, `${want.demoLr}-seeds-42_1_2`, 'seeds.json')));
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
  const dropout = folder([...demo, '--head-dropout', '0.2']);
  assert.match(dropout, /^results\/cv\/[0-9a-f]{16}-k5-s42-all$/);
  assert.notEqual(dropout, want.demo);
  assert.equal(folder([...demo, '--head-dropout', '0']), want.demo);
  const dora = folder([...demo, '--dora']);
  assert.match(dora, /^results\/cv\/[0-9a-f]{16}-k5-s42-all$/);
  assert.notEqual(dora, want.demo);
  const ranked = folder([...demo, '--rank-pattern', '.*depthwise=8', '--rank-pattern', 'a=b=4']);
  assert.match(ranked, /^results\/cv\/[0-9a-f]{16}-k5-s42-all$/);
  assert.notEqual(ranked, want.demo);
  const trivial = folder([...demo, '--image-size', '288', '--trivial-augment']);
  assert.match(trivial, /^results\/cv\/[0-9a-f]{16}-k5-s42-all$/);
  assert.notEqual(trivial, want.demo288);
});
