import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  classesOf,
  type Dataset,
  type DiscoverOptions,
  discoverLayout,
  noImages,
} from './discover-layout.js';
import { listFolder } from './image-files.js';
import { SMOKING_CLASSES, smokingLabelOfFolder } from './labels.js';
import { readLabelledFolder, unwrapDoubled } from './labelled-folder.js';
import type { Sample } from './sample.js';
import { findSplitFolders } from './split-folders.js';

export type { Dataset, DiscoverOptions } from './discover-layout.js';

/** A labelled data set on disk, found as discoverLayout finds it (the web page runs the same over a dropped folder). */
export function discoverDataset(root: string, opts: DiscoverOptions): Dataset {
  return discoverLayout(requireFolder(root), listFolder, opts);
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
  const dir = unwrapDoubled(requireFolder(path), listFolder);
  const splits = findSplitFolders(dir, listFolder);
  if (splits.length > 0) {
    throw new Error(
      `${dir}: holds split folders (${splits.map((s) => s.name).join(', ')}); point at one of them`,
    );
  }
  const folder = readLabelledFolder(dir, listFolder);
  if (folder.files.length === 0) throw noImages(dir);
  const { classes, labelOf } = opts.classes ? matchClasses(dir, opts.classes) : classesOf([folder]);
  return {
    classes,
    samples: folder.files.map((f) => ({ path: f.path, label: labelOf(f.className) })),
    layout: `one folder of ${folder.kind === 'named' ? 'named files' : 'class folders'} (${dir})`,
  };
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
