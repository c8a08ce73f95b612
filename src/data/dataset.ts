import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { IMAGE_EXTENSIONS } from './image-files.js';
import { classesOfFolders, SMOKING_CLASSES, smokingLabelOfFolder } from './labels.js';
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
export function discoverDataset(root: string, opts: DiscoverOptions): Dataset {
  const top = unwrapDoubled(requireFolder(root));
  const splitFolders = findSplitFolders(top);
  return splitFolders.length > 0
    ? fromSplitFolders(top, splitFolders)
    : fromOneFolder(top, opts.splitFractions ?? DEFAULT_SPLIT_FRACTIONS, opts.seed);
}

/** All labelled images of one folder: a split to evaluate on, e.g. Kaggle's `Testing/Testing`. */
export interface FolderDataset {
  classes: string[];
  samples: Sample[];
  layout: string;
}

/**
 * Reads one folder of smoking_/notsmoking_ named files or class folders. With `classes` (a trained
 * model's), class folders are matched to them by name, so labels mean what the model's outputs mean.
 */
export function datasetFromFolder(path: string, opts: { classes?: string[] } = {}): FolderDataset {
  const dir = unwrapDoubled(requireFolder(path));
  const splits = findSplitFolders(dir);
  if (splits.length > 0) {
    throw new Error(
      `${dir}: holds split folders (${splits.map((s) => s.name).join(', ')}); point at one of them`,
    );
  }
  const folder = readLabelledFolder(dir);
  if (folder.files.length === 0) throw noImages(dir);
  const { classes, labelOf } = opts.classes ? matchClasses(dir, opts.classes) : classesOf([folder]);
  return {
    classes,
    samples: folder.files.map((f) => ({ path: f.path, label: labelOf(f.className) })),
    layout: `one folder of ${folder.kind === 'named' ? 'named files' : 'class folders'} (${dir})`,
  };
}

function fromSplitFolders(root: string, found: SplitFolder[]): Dataset {
  if (!found.some((f) => f.split === 'train')) {
    throw new Error(
      `${root}: has ${found.map((f) => f.name).join(', ')} but no training folder; ` +
        `add Training/ (or train/), or point at a single folder of images to have it split`,
    );
  }
  const folders = found.map((f) => ({ ...f, ...readLabelledFolder(f.dir) }));
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

function fromOneFolder(dir: string, fractions: [number, number, number], seed: number): Dataset {
  const folder = readLabelledFolder(dir);
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
function classesOf(folders: LabelledFolder[]): { classes: string[]; labelOf: (className: string) => number } {
  if (folders[0].kind === 'named') {
    return { classes: SMOKING_CLASSES, labelOf: (n) => SMOKING_CLASSES.indexOf(n) };
  }
  return classesOfFolders(folders.flatMap((f) => f.files.map((file) => file.className)));
}

/** Labels class names by a model's classes, a smoking-set spelling counting as its class. */
function matchClasses(dir: string, classes: string[]) {
  const key = (name: string) => {
    const smoking = smokingLabelOfFolder(name);
    return smoking === undefined ? name : SMOKING_CLASSES[smoking];
  };
  const labelOf = (name: string) => {
    const label = classes.findIndex((c) => key(c) === key(name));
    if (label < 0) {
      throw new Error(`${dir}: class '${name}' is not one of the model's classes (${classes.join(', ')})`);
    }
    return label;
  };
  return { classes, labelOf };
}

function requireFolder(path: string): string {
  const dir = resolve(path);
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) {
    throw new Error(
      `${dir}: data folder not found; pass the folder holding Training/ and Validation/ (or class folders, or smoking_/notsmoking_ images)`,
    );
  }
  if (!stat.isDirectory()) throw new Error(`${dir}: not a folder; pass the folder that holds the images`);
  return dir;
}

function noImages(dir: string, name?: string): Error {
  const exts = IMAGE_EXTENSIONS.join(' ');
  return new Error(
    `${name ? `${name} (${dir})` : dir}: no images found (${exts}, directly or in class folders); add images or fix the path`,
  );
}
