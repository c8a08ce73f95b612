import { IMAGE_EXTENSIONS, type ListFolder } from './folder-listing.js';
import { classesOfFolders, SMOKING_CLASSES } from './labels.js';
import { type LabelledFolder, readLabelledFolder, unwrapDoubled } from './labelled-folder.js';
import type { Sample } from './sample.js';
import { findSplitFolders, type SplitFolder, type SplitName } from './split-folders.js';
import { DEFAULT_SPLIT_FRACTIONS, requireEveryClass, splitShares, splitUnsplit } from './stratified-split.js';

export interface Dataset {
  classes: string[];
  splits: Record<SplitName, Sample[]>;
  /** How the data was found, for logs and reports. */
  layout: string;
}

export interface DiscoverOptions {
  /** Seeds the split of an unsplit folder. */
  seed: number;
  /** train/val/test shares for an unsplit folder. */
  splitFractions?: [number, number, number];
}

/**
 * Finds a labelled image data set under `root`:
 * - split folders (`Training/`, `Validation/`, `Testing/`, or `train/ val/ test/`, Kaggle's doubled
 *   `Training/Training` too), each holding smoking_/notsmoking_ named files or class folders. A training
 *   folder is required; a missing validation or test folder gives an empty split;
 * - otherwise one folder of named files or class folders, split stratified and seeded by `splitFractions`.
 * Every split that has images must have every class. Errors are one line naming the path and the fix.
 */
export function discoverLayout(root: string, list: ListFolder, opts: DiscoverOptions): Dataset {
  const top = unwrapDoubled(root, list);
  const splitFolders = findSplitFolders(top, list);
  return splitFolders.length > 0
    ? fromSplitFolders(top, splitFolders, list)
    : fromOneFolder(top, list, opts.splitFractions ?? DEFAULT_SPLIT_FRACTIONS, opts.seed);
}

function fromSplitFolders(root: string, found: SplitFolder[], list: ListFolder): Dataset {
  if (!found.some((f) => f.split === 'train')) {
    throw new Error(
      `${root}: has ${found.map((f) => f.name).join(', ')} but no training folder; ` +
        `add Training/ (or train/), or point at a single folder of images to have it split`,
    );
  }
  const folders = found.map((f) => ({ ...f, ...readLabelledFolder(f.dir, list) }));
  for (const f of folders) if (f.files.length === 0) throw noImages(f.dir, f.name);
  if (new Set(folders.map((f) => f.kind)).size > 1) {
    const kinds = folders.map((f) => `${f.name}: ${f.kind}`).join(', ');
    throw new Error(`${root}: splits mix named files and class folders (${kinds}); use one layout for all`);
  }
  const { classes, labelOf } = classesOf(folders);
  const splits: Record<SplitName, Sample[]> = { train: [], val: [], test: [] };
  for (const f of folders) {
    splits[f.split] = f.files.map((file) => ({ path: file.path, label: labelOf(file.className) }));
    requireEveryClass(
      splits[f.split],
      classes,
      (c) => `${f.name} has no '${c}' images (${f.dir}); every split needs images of every class`,
    );
  }
  const missing = (['val', 'test'] as const).filter((s) => !found.some((f) => f.split === s));
  return {
    classes,
    splits,
    layout:
      `split folders (${folders.map((f) => f.name).join(', ')}` +
      (missing.length ? `; no ${missing.join(' or ')} folder` : '') +
      `) of ${folders[0].kind === 'named' ? 'named files' : 'class folders'} in ${root}`,
  };
}

function fromOneFolder(
  dir: string,
  list: ListFolder,
  fractions: [number, number, number],
  seed: number,
): Dataset {
  const folder = readLabelledFolder(dir, list);
  if (folder.files.length === 0) throw noImages(dir);
  const { classes, labelOf } = classesOf([folder]);
  const samples = folder.files.map((f) => ({ path: f.path, label: labelOf(f.className) }));
  const [train, val, test] = splitUnsplit(samples, classes, fractions, seed, dir);
  return {
    classes,
    splits: { train, val, test },
    layout: `one folder of ${folder.kind === 'named' ? 'named files' : 'class folders'} in ${dir}, split ${splitShares(fractions)} stratified (seed ${seed})`,
  };
}

/** Classes for folders of one kind: the smoking set's for named files, else from the class-folder names. */
export function classesOf(folders: LabelledFolder[]): {
  classes: string[];
  labelOf: (className: string) => number;
} {
  if (folders[0].kind === 'named') {
    return { classes: SMOKING_CLASSES, labelOf: (n) => SMOKING_CLASSES.indexOf(n) };
  }
  return classesOfFolders(folders.flatMap((f) => f.files.map((file) => file.className)));
}

export function noImages(dir: string, name?: string): Error {
  const exts = IMAGE_EXTENSIONS.join(' ');
  return new Error(
    `${name ? `${name} (${dir})` : dir}: no images found (${exts}, directly or in class folders); add images or fix the path`,
  );
}
