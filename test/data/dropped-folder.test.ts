import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { discoverDataset, type Dataset } from '../../src/data/dataset.js';
import { discoverDropped } from '../../src/data/dropped-folder.js';
import { listFromPaths } from '../../src/data/folder-listing.js';
import { put, tempDir } from './fixtures.js';

/*
 * The web page's discovery over a dropped folder's paths gives what the CLI's gives over the same
 * folder on disk: the same classes, the same samples in the same order in every split (so the same
 * seed trains on the same batches), and the same refusals.
 */

const base = tempDir('smoker-dropped-');
let n = 0;
/** A fresh folder `data` holding empty files at `rels` ('x/' makes an empty folder). */
function tree(rels: string[]): string {
  const root = join(base, `t${n++}`, 'data');
  mkdirSync(root, { recursive: true });
  for (const rel of rels) {
    if (rel.endsWith('/')) mkdirSync(join(root, rel), { recursive: true });
    else put(root, rel);
  }
  return root;
}
const named = (dir: string, count: number, prefixes = ['smoking', 'notsmoking']) =>
  Array.from({ length: count }, (_, i) =>
    prefixes.map((p) => `${dir}/${p}_${String(i).padStart(4, '0')}.jpg`),
  ).flat();

/** What a browser reports for a dropped folder: every file's path from the drop, and (webkitGetAsEntry) its folders. */
function dropped(root: string, withFolders: boolean): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      const rel = relative(join(root, '..'), path);
      return statSync(path).isDirectory() ? [...(withFolders ? [`${rel}/`] : []), ...walk(path)] : [rel];
    });
  // Browsers give no order to rely on.
  return walk(root).reverse();
}

type Outcome = { classes: string[]; splits: Record<string, [string, number][]> } | { error: string };

/** A data set with its paths relative to the root's parent, or the error with the root so written. */
function outcome(root: string, find: () => Dataset): Outcome {
  const parent = join(root, '..') + '/';
  try {
    const ds = find();
    const splits = Object.fromEntries(
      Object.entries(ds.splits).map(([k, v]) => [
        k,
        v.map((s) => [s.path.replace(parent, ''), s.label] as [string, number]),
      ]),
    );
    return { classes: ds.classes, splits };
  } catch (e) {
    return { error: (e as Error).message.replaceAll(parent, '') };
  }
}

const LAYOUTS: Record<string, string[]> = {
  "Kaggle's doubled split folders": [...named('Training/Training', 6), ...named('Validation/Validation', 2)],
  'train/val/test of class folders': [
    ...named('train/smoking', 4, ['a', 'b']),
    ...named('train/notsmoking', 4, ['a', 'b']),
    ...named('val/smoking', 1),
    ...named('val/notsmoking', 1),
    ...named('test/smoking', 1),
    ...named('test/notsmoking', 1),
  ],
  'one folder of named files, split 64/16/20': [
    ...named('', 13).map((p) => p.slice(1)),
    'notes.txt',
    '.hidden.jpg',
  ],
  'class folders at any depth, other names sorted': [
    ...named('cats/indoor', 7, ['x']),
    ...named('cats', 3, ['y']),
    ...named('dogs', 9, ['z']),
    ...named('dogs/.cache', 2, ['hidden']),
  ],
  'a doubled root (data/data)': named('data/Training', 5),
  'a split folder with no images': [...named('Training', 5), 'Validation/'],
  'images beside class folders': [...named('smoking', 5), 'stray.jpg'],
  'an unnamed image': [...named('', 5).map((p) => p.slice(1)), 'photo.jpg'],
  'too few photos of a class': [...named('', 6, ['smoking']).map((p) => p.slice(1)), 'notsmoking_1.jpg'],
  'splits without a training folder': named('Validation', 3),
  'a split with one class missing': [...named('Training', 4), ...named('Validation', 2, ['smoking'])],
  'two training folders': [...named('Training', 4), ...named('train', 4)],
  'named files in one split, class folders in another': [
    ...named('Training', 4),
    ...named('Validation/smoking', 1, ['a']),
    ...named('Validation/notsmoking', 1, ['a']),
  ],
};

for (const [name, rels] of Object.entries(LAYOUTS)) {
  test(`as the CLI: ${name}`, () => {
    const root = tree(rels);
    for (const seed of [42, 7]) {
      const cli = outcome(root, () => discoverDataset(root, { seed }));
      // webkitdirectory lists files only, so a folder without images is not seen there.
      for (const withFolders of rels.some((r) => r.endsWith('/')) ? [true] : [true, false]) {
        const page = outcome(root, () => discoverDropped(dropped(root, withFolders), { seed }));
        assert.deepEqual(page, cli, `seed ${seed}, folders listed: ${withFolders}`);
      }
    }
  });
}

test('several items dropped together are the contents of the root', () => {
  const ds = discoverDropped(
    [
      'Validation/Validation/smoking_1.jpg',
      'Training/Training/notsmoking_1.jpg',
      'Training/Training/smoking_1.jpg',
      'Validation/Validation/notsmoking_1.jpg',
    ],
    { seed: 1 },
  );
  assert.deepEqual(ds.classes, ['notsmoking', 'smoking']);
  assert.deepEqual(
    ds.splits.train.map((s) => [s.path, s.label]),
    [
      ['Training/Training/notsmoking_1.jpg', 0],
      ['Training/Training/smoking_1.jpg', 1],
    ],
  );
  assert.equal(ds.splits.val.length, 2);
  assert.equal(ds.splits.test.length, 0);
});

test('listFromPaths lists folders as listFolder does: sorted, hidden and non-image entries left out', () => {
  const list = listFromPaths('r', [
    'b/2.PNG',
    'a.jpg',
    'b/1.jpg',
    'b/.x/3.jpg',
    'c/',
    'notes.md',
    '.d/4.jpg',
  ]);
  assert.deepEqual(list('r'), { images: ['a.jpg'], dirs: ['b', 'c'] });
  assert.deepEqual(list('r/b'), { images: ['1.jpg', '2.PNG'], dirs: [] });
  assert.deepEqual(list('r/c'), { images: [], dirs: [] });
  assert.throws(() => list('r/e'), /r\/e: no such folder/);
});
