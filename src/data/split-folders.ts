import { joinPath, type ListFolder } from './folder-listing.js';
import { unwrapDoubled } from './labelled-folder.js';

export type SplitName = 'train' | 'val' | 'test';
export const SPLIT_NAMES: SplitName[] = ['train', 'val', 'test'];

/** Folder names (lower-cased) recognised as each split. */
const ALIASES: Record<SplitName, string[]> = {
  train: ['training', 'train'],
  val: ['validation', 'val', 'valid'],
  test: ['testing', 'test'],
};

export interface SplitFolder {
  split: SplitName;
  /** As found under the root, e.g. 'Training/Training'; used in messages. */
  name: string;
  /** Under the root (absolute on disk), doubled folders descended. */
  dir: string;
}

/** The split folders directly under `root`, in train/val/test order (none: the root is not split). */
export function findSplitFolders(root: string, list: ListFolder): SplitFolder[] {
  const { dirs } = list(root);
  return SPLIT_NAMES.flatMap((split) => {
    const found = dirs.filter((d) => ALIASES[split].includes(d.toLowerCase()));
    if (found.length > 1) {
      throw new Error(`${root}: ${found.join(' and ')} are both ${split} folders; keep one`);
    }
    if (found.length === 0) return [];
    const dir = unwrapDoubled(joinPath(root, found[0]), list);
    return [{ split, name: dir.slice(joinPath(root, '').length), dir }];
  });
}
