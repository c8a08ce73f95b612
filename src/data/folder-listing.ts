/**
 * Folders as the data set discovery sees them, without a file system: the CLI lists the disk, the web
 * page lists the relative paths of a dropped folder (`webkitGetAsEntry`, `webkitRelativePath`), and both
 * hand the same decision code (labelled-folder, split-folders, discover-layout) a `ListFolder`. Paths
 * are '/'-separated, as on the platforms this project runs on. Nothing here imports Node.
 */

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.bmp'];

export const isImageFile = (name: string): boolean => {
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.includes(name.slice(dot).toLowerCase());
};

/** A folder's image files and sub-folders, by name, sorted; hidden entries (".*") are ignored. */
export interface FolderListing {
  images: string[];
  dirs: string[];
}

/** Lists one folder, given by its path. */
export type ListFolder = (dir: string) => FolderListing;

/** `dir`/`name`, as node's path.join gives it for a normalised folder path. */
export const joinPath = (dir: string, name: string): string =>
  dir === '' ? name : dir.endsWith('/') ? dir + name : `${dir}/${name}`;

/** The last segment of a path. */
export const lastSegment = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/** Every image under `dir`, at any depth (as torchvision's ImageFolder walks a class folder), sorted by path. */
export function listImagesDeep(list: ListFolder, dir: string): string[] {
  const { images, dirs } = list(dir);
  return [
    ...images.map((n) => joinPath(dir, n)),
    ...dirs.flatMap((d) => listImagesDeep(list, joinPath(dir, d))),
  ].sort();
}

interface Node {
  files: Set<string>;
  dirs: Map<string, Node>;
}

/**
 * A ListFolder over relative paths under `root` (a file's path, or a folder's path ending in '/' so that
 * an empty folder is seen too): `root` lists the top, `root/a` the folder a. Hidden entries and files
 * that are not images are left out, as listFolder leaves them out on disk.
 */
export function listFromPaths(root: string, paths: Iterable<string>): ListFolder {
  const top: Node = { files: new Set(), dirs: new Map() };
  for (const path of paths) {
    const parts = path.split('/');
    const isDir = parts[parts.length - 1] === '';
    const segments = parts.filter((s) => s !== '');
    if (segments.some((s) => s.startsWith('.'))) continue;
    const folders = isDir ? segments : segments.slice(0, -1);
    let node = top;
    for (const s of folders) {
      if (!node.dirs.has(s)) node.dirs.set(s, { files: new Set(), dirs: new Map() });
      node = node.dirs.get(s)!;
    }
    if (!isDir && isImageFile(segments[segments.length - 1])) node.files.add(segments[segments.length - 1]);
  }
  const prefix = root === '' ? '' : root.endsWith('/') ? root : `${root}/`;
  return (dir) => {
    let node: Node | undefined = top;
    if (dir !== root) {
      if (!dir.startsWith(prefix)) throw new Error(`${dir}: not under ${root}`);
      for (const s of dir.slice(prefix.length).split('/')) node = node?.dirs.get(s);
    }
    if (!node) throw new Error(`${dir}: no such folder`);
    // A name is either a file or a folder on disk; here a folder wins, as stat would have it.
    const images = [...node.files].filter((n) => !node!.dirs.has(n)).sort();
    return { images, dirs: [...node.dirs.keys()].sort() };
  };
}
