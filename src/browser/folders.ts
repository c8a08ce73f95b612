/**
 * The Train view's dropped data set (/lib/folders.js): a whole folder in the Kaggle, split-folder or
 * class-folder layout, found and split by the CLI's own discovery (discoverDropped), then refused where
 * `smoker-lora train --data` refuses it, in its words with the folder's name for `--data <path>`.
 */
import { discoverDropped, droppedRoot } from '../data/dropped-folder.js';
import { requireClasses } from '../data/require-classes.js';
import { SPLIT_NAMES, type SplitName } from '../data/split-folders.js';

export interface DroppedDataset {
  classes: string[];
  /** Each split's photos as [path, label], in the CLI's order. */
  splits: Record<SplitName, [string, number][]>;
  /** How the data was found, as the CLI logs it. */
  layout: string;
}

/** `paths` as the browser gives them (see discoverDropped), split with `seed` as the CLI would. */
export function droppedDataset(paths: string[], seed: number): DroppedDataset {
  const ds = discoverDropped(paths, { seed });
  const where = droppedRoot(paths) || 'the dropped folders';
  requireClasses(ds.classes, where);
  if (ds.splits.val.length === 0)
    throw new Error(
      `${where}: no validation images; add a Validation folder, or drop one unsplit folder to have it split`,
    );
  const splits = Object.fromEntries(
    SPLIT_NAMES.map((s) => [s, ds.splits[s].map((x) => [x.path, x.label] as [string, number])]),
  ) as DroppedDataset['splits'];
  return { classes: ds.classes, splits, layout: ds.layout };
}
