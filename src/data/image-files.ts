import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.bmp'];

export const isImageFile = (name: string): boolean => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());

/** A folder's image files and sub-folders, by name, sorted; hidden entries (".*") are ignored. */
export interface FolderListing {
  images: string[];
  dirs: string[];
}

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
