import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { globSync } from 'tinyglobby';
import { isImageFile, listImagesDeep } from './image-files.js';

/**
 * Files to predict on from command-line arguments: image files as given, folders searched deeply for
 * images, anything else read as a glob (quoted, so the shell did not expand it). Sorted, without repeats.
 */
export function expandInputs(args: string[]): string[] {
  const found = new Set<string>();
  for (const arg of args) {
    const stat = statSync(arg, { throwIfNoEntry: false });
    let paths: string[];
    if (stat?.isDirectory()) paths = listImagesDeep(arg);
    else if (stat?.isFile()) paths = [arg];
    else paths = globSync(arg, { absolute: true, onlyFiles: true }).filter(isImageFile);
    if (paths.length === 0) throw new Error(`${arg}: no image files found (jpg, jpeg, png, webp, bmp)`);
    for (const p of paths) found.add(resolve(p));
  }
  return [...found].sort();
}
