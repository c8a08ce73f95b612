import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { datasetFromFolder, discoverDataset, type Dataset } from '../../src/data/dataset.js';
import { SMOKING_CLASSES } from '../../src/data/labels.js';
import { formatSplitCounts } from '../../src/data/split-counts.js';
import { sharedPath } from '../helpers/shared.js';
import { put, tempDir } from './fixtures.js';

const base = tempDir('smoker-dataset-');
let n = 0;
/** A fresh folder holding empty files at `rels` (discovery never opens them). */
function tree(rels: string[]): string {
  const root = join(base, `t${n++}`);
  mkdirSync(root);
  for (const rel of rels) put(root, rel);
  return root;
}
const named = (dir: string, count: number) =>
  Array.from({ length: count }, (_, i) => [
    `${dir}/smoking_${String(i).padStart(4, '0')}.jpg`,
    `${dir}/notsmoking_${String(i).padStart(4, '0')}.jpg`,
  ]).flat();
const names = (ds: Dataset, split: keyof Dataset['splits']) =>
  ds.splits[split].map((s) => `${basename(s.path)}:${s.label}`);
const throwsLine = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (e: Error) => {
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'), e.message);
    return true;
  });

test("Kaggle's doubled Training/Training and Validation/Validation; no Testing gives an empty test split", () => {
  const root = tree([...named('Training/Training', 3), ...named('Validation/Validation', 1)]);
  const ds = discoverDataset(root, { seed: 1 });
  assert.deepEqual(ds.classes, ['notsmoking', 'smoking']);
  assert.deepEqual(names(ds, 'val'), ['notsmoking_0000.jpg:0', 'smoking_0000.jpg:1']);
  assert.equal(ds.splits.train.length, 6);
  assert.ok(ds.splits.train.every((s) => s.label === (basename(s.path).startsWith('not') ? 0 : 1)));
  assert.ok(ds.splits.train.every((s) => s.path.startsWith(join(root, 'Training', 'Training'))));
  assert.deepEqual(ds.splits.test, []);
  assert.match(ds.layout, /Training\/Training, Validation\/Validation; no test folder\) of named files/);
});

test('train/val/test and Training/ without doubling; extensions case-insensitive, other files ignored', () => {
  const root = tree([
    'train/smoking_a.JPG',
    'train/notsmoking_b.png',
    'train/smoking_c.webp',
    'train/notsmoking_d.jpeg',
    'train/smoking_e.bmp',
    'train/notes.txt',
    'train/.DS_Store',
    'train/smoking_f.gif',
    'val/smoking_a.jpg',
    'val/notsmoking_a.jpg',
    'Test/Smoking_a.jpg',
    'Test/NotSmoking_a.jpg',
  ]);
  const ds = discoverDataset(root, { seed: 1 });
  assert.deepEqual(names(ds, 'train'), [
    'notsmoking_b.png:0',
    'notsmoking_d.jpeg:0',
    'smoking_a.JPG:1',
    'smoking_c.webp:1',
    'smoking_e.bmp:1',
  ]);
  assert.deepEqual(names(ds, 'test'), ['NotSmoking_a.jpg:0', 'Smoking_a.jpg:1']);
  const plain = discoverDataset(
    tree([...named('Training', 1), ...named('Validation', 1), ...named('Testing', 1)]),
    {
      seed: 1,
    },
  );
  assert.deepEqual([plain.splits.train.length, plain.splits.val.length, plain.splits.test.length], [2, 2, 2]);
});

test('class folders: smoking-set spellings map to its classes; other names sort as ImageFolder does', () => {
  const smoking = discoverDataset(
    tree([
      'train/Not_Smoking/a.jpg',
      'train/smoking/b.jpg',
      'train/smoking/deeper/c.jpg',
      'val/non-smoking/d.jpg',
      'val/Smoking/e.jpg',
    ]),
    { seed: 1 },
  );
  assert.deepEqual(smoking.classes, SMOKING_CLASSES);
  assert.deepEqual(names(smoking, 'train'), ['a.jpg:0', 'b.jpg:1', 'c.jpg:1']);
  assert.deepEqual(names(smoking, 'val'), ['e.jpg:1', 'd.jpg:0']); // by path: 'Smoking/' < 'non-smoking/'
  assert.match(smoking.layout, /of class folders/);

  const other = discoverDataset(
    tree([
      'train/dog/a.jpg',
      'train/cat/b.jpg',
      'train/Zebra/c.jpg',
      'val/cat/d.jpg',
      'val/dog/e.jpg',
      'val/Zebra/f.jpg',
    ]),
    { seed: 1 },
  );
  assert.deepEqual(other.classes, ['Zebra', 'cat', 'dog']); // code-point order, like Python's sorted()
  assert.deepEqual(names(other, 'train'), ['c.jpg:0', 'b.jpg:1', 'a.jpg:2']);
});

test('one folder without splits is split 64/16/20 per class, seeded and deterministic', () => {
  const root = tree(named('all', 50).map((p) => p.slice(4)));
  const a = discoverDataset(root, { seed: 7 });
  const b = discoverDataset(root, { seed: 7 });
  const c = discoverDataset(root, { seed: 8 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.splits.train, c.splits.train);
  const perClass = (ds: Dataset) =>
    (['train', 'val', 'test'] as const).map((s) =>
      [0, 1].map((l) => ds.splits[s].filter((x) => x.label === l).length),
    );
  assert.deepEqual(perClass(a), [
    [32, 32],
    [8, 8],
    [10, 10],
  ]);
  const all = [...a.splits.train, ...a.splits.val, ...a.splits.test].map((s) => s.path).sort();
  assert.equal(new Set(all).size, 100, 'every image in exactly one split');
  assert.match(a.layout, /one folder of named files in .*, split 64\/16\/20 stratified \(seed 7\)/);

  const folders = discoverDataset(
    tree([...Array.from({ length: 10 }, (_, i) => [`smoking/${i}.jpg`, `notsmoking/${i}.jpg`]).flat()]),
    { seed: 1, splitFractions: [0.6, 0.2, 0.2] },
  );
  assert.deepEqual(perClass(folders), [
    [6, 6],
    [2, 2],
    [2, 2],
  ]);
});

test('one-line errors name the path and what to do', () => {
  const missing = join(base, 'nope');
  throwsLine(
    () => discoverDataset(missing, { seed: 1 }),
    new RegExp(`^${missing}: data folder not found; pass`),
  );
  throwsLine(
    () => discoverDataset(tree(['readme.txt']), { seed: 1 }),
    /: no images found \(.jpg .jpeg .png .webp .bmp/,
  );
  throwsLine(
    () => discoverDataset(tree([...named('Training', 2), 'Validation/readme.md']), { seed: 1 }),
    /^Validation \(.*Validation\): no images found/,
  );
  throwsLine(
    () =>
      discoverDataset(tree([...named('Training/Training', 2), 'Validation/Validation/notsmoking_1.jpg']), {
        seed: 1,
      }),
    /^Validation\/Validation has no 'smoking' images \(.*\); every split needs images of every class$/,
  );
  throwsLine(
    () =>
      discoverDataset(tree(['smoking_1.jpg', 'notsmoking_1.jpg', 'IMG_0001.jpg', 'photo.png']), { seed: 1 }),
    /: 2 image\(s\) named neither smoking_\* nor notsmoking_\* \(IMG_0001.jpg, photo.png\); rename them/,
  );
  throwsLine(
    () => discoverDataset(tree(['smoking_1.jpg', 'smoking/a.jpg']), { seed: 1 }),
    /holds both images and folders of images \(smoking\)/,
  );
  throwsLine(
    () =>
      discoverDataset(tree([...named('train', 1), 'val/smoking/a.jpg', 'val/notsmoking/b.jpg']), { seed: 1 }),
    /splits mix named files and class folders \(train: named, val: class folders\)/,
  );
  throwsLine(
    () => discoverDataset(tree(named('Validation', 1)), { seed: 1 }),
    /has Validation but no training folder; add Training\//,
  );
  throwsLine(
    () => discoverDataset(tree([...named('train', 1), ...named('Training', 1)]), { seed: 1 }),
    /Training and train are both train folders; keep one/,
  );
  throwsLine(
    () => discoverDataset(tree(named('.', 2)), { seed: 1 }),
    /class 'notsmoking' has 2 image\(s\), too few to split 64\/16\/20; add images or use split folders/,
  );
  throwsLine(
    () => discoverDataset(tree(named('.', 5)), { seed: 1, splitFractions: [0.5, 0.5, 0.5] }),
    /split fractions \[0.5, 0.5, 0.5\] must be/,
  );
});

test('datasetFromFolder reads one split folder, doubled or not, named files or class folders', () => {
  const root = tree([...named('Testing/Testing', 2), 'eval/not smoking/a.jpg', 'eval/smoking/b.jpg']);
  const testing = datasetFromFolder(join(root, 'Testing'));
  assert.deepEqual(testing.classes, SMOKING_CLASSES);
  assert.deepEqual(
    testing.samples.map((s) => `${basename(s.path)}:${s.label}`),
    ['notsmoking_0000.jpg:0', 'notsmoking_0001.jpg:0', 'smoking_0000.jpg:1', 'smoking_0001.jpg:1'],
  );
  const folders = datasetFromFolder(join(root, 'eval'), { classes: ['notsmoking', 'smoking'] });
  assert.deepEqual(
    folders.samples.map((s) => s.label),
    [0, 1],
  );
  throwsLine(
    () => datasetFromFolder(join(root, 'eval'), { classes: ['cat', 'smoking'] }),
    /class 'not smoking' is not one of the model's classes \(cat, smoking\)/,
  );
  throwsLine(() => datasetFromFolder(root), /holds split folders \(Testing\/Testing\); point at one of them/);
});

test('formatSplitCounts prints per-split class counts', () => {
  const ds = discoverDataset(tree([...named('Training/Training', 3), ...named('Validation/Validation', 1)]), {
    seed: 1,
  });
  assert.equal(
    formatSplitCounts(ds),
    [
      'split  notsmoking  smoking  total',
      'train           3        3      6',
      'val             1        1      2',
      'test            0        0      0',
    ].join('\n'),
  );
});

const real = sharedPath('data/smoking');
test('the real smoking set: 716 training and 180 validation images, balanced', { skip: real.skip }, () => {
  const ds = discoverDataset(real.path, { seed: 1 });
  assert.equal(
    formatSplitCounts(ds),
    [
      'split  notsmoking  smoking  total',
      'train         358      358    716',
      'val            90       90    180',
      'test            0        0      0',
    ].join('\n'),
  );
});
