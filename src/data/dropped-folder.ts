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
  const clean = paths.map((p) => p.replace(/^\/+/, ''));
  const first = (p: string) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : undefined);
  const top = first(clean[0] ?? '');
  const one = top !== undefined && clean.every((p) => first(p) === top);
  const root = one ? top : '';
  const rel = one ? clean.map((p) => p.slice(top.length + 1)) : clean;
  return discoverLayout(root, listFromPaths(root, rel), opts);
}
