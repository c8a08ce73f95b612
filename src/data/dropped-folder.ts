import { type Dataset, type DiscoverOptions, discoverLayout } from './discover-layout.js';
import { listFromPaths } from './folder-listing.js';

/**
 * A data set from the relative paths of what a user dropped on the web page (or picked with
 * `<input webkitdirectory>`): 'data/Training/Training/smoking_0001.jpg', a folder as 'data/Validation/'.
 * One folder dropped (every path under the same first segment) is the root, as `--data data` is to the
 * CLI; several items dropped together are the root's contents. Found and split exactly as the CLI finds
 * and splits a folder on disk (discoverLayout), so the same seed gives the same classes and splits;
 * sample paths are the given paths.
 */
export function discoverDropped(paths: string[], opts: DiscoverOptions): Dataset {
  const root = droppedRoot(paths);
  const rel = paths.map((p) => p.replace(/^\/+/, '').slice(root ? root.length + 1 : 0));
  return discoverLayout(root, listFromPaths(root, rel), opts);
}

/** The dropped folder's name when one folder was dropped, else '' (the drop itself is the root). */
export function droppedRoot(paths: string[]): string {
  const first = (p: string) => {
    const clean = p.replace(/^\/+/, '');
    return clean.includes('/') ? clean.slice(0, clean.indexOf('/')) : undefined;
  };
  const top = first(paths[0] ?? '');
  return top !== undefined && paths.every((p) => first(p) === top) ? top : '';
}
