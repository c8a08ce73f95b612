import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type FolderListing, isImageFile } from './folder-listing.js';

export { IMAGE_EXTENSIONS, isImageFile, type FolderListing } from './folder-listing.js';

/** A folder on disk as a FolderListing (see folder-listing). */
export function listFolder(dir: string): FolderListing {
  const images: string[] = [];
  const dirs: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    // stat, not the dirent type, so symlinked files and folders count as what they point to.
    const stat = statSync(join(dir, name), { throwIfNoEntry: false });
    if (stat?.isDirectory()) dirs.push(name);
    else if (stat?.isFile() && isImageFile(name)) images.push(name);
  }
  return { images, dirs };
}

/** Every image under `dir`, at any depth (as torchvision's ImageFolder walks a class folder), sorted by path. */
export function listImagesDeep(dir: string): string[] {
  const { images, dirs } = listFolder(dir);
  return [...images.map((n) => join(dir, n)), ...dirs.flatMap((d) => listImagesDeep(join(dir, d)))].sort();
}
