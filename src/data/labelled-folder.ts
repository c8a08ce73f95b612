import { joinPath as join, lastSegment, listImagesDeep, type ListFolder } from './folder-listing.js';
import { labelFromFileName, SMOKING_CLASSES } from './labels.js';

/** The images of one folder with the class name each one carries. */
export interface LabelledFolder {
  /** 'named': smoking_/notsmoking_ files directly in it; 'class folders': `<class>/**` sub-folders. */
  kind: 'named' | 'class folders';
  /** Sorted by path. For named files the class name is the smoking set's ('notsmoking' or 'smoking'). */
  files: { path: string; className: string }[];
}

/**
 * Reads a folder of named images or of class folders, listed by `list` (the disk's, or a dropped folder's). An image whose name has neither prefix is an
 * error rather than skipped: its label is unknown, and dropping it silently would change the data set
 * (and the counts a report quotes) without anyone noticing.
 */
export function readLabelledFolder(dir: string, list: ListFolder): LabelledFolder {
  const { images, dirs } = list(dir);
  const classDirs = dirs
    .map((name) => ({ name, paths: listImagesDeep(list, join(dir, name)) }))
    .filter((c) => c.paths.length > 0);
  if (images.length > 0 && classDirs.length > 0) {
    throw new Error(
      `${dir}: holds both images and folders of images (${classDirs.map((c) => c.name).join(', ')}); ` +
        `use either smoking_/notsmoking_ named files or one folder per class, not both`,
    );
  }
  if (classDirs.length > 0) {
    return {
      kind: 'class folders',
      files: classDirs.flatMap((c) => c.paths.map((path) => ({ path, className: c.name }))),
    };
  }
  return { kind: 'named', files: namedFiles(dir, images) };
}

function namedFiles(dir: string, names: string[]): LabelledFolder['files'] {
  const unknown = names.filter((n) => labelFromFileName(n) === undefined);
  if (unknown.length > 0) {
    const examples = unknown.slice(0, 3).join(', ') + (unknown.length > 3 ? ', …' : '');
    throw new Error(
      `${dir}: ${unknown.length} image(s) named neither smoking_* nor notsmoking_* (${examples}); ` +
        `rename them with their class prefix or move them out of the folder`,
    );
  }
  return names.map((n) => ({ path: join(dir, n), className: SMOKING_CLASSES[labelFromFileName(n)!] }));
}

/** Descends Kaggle's doubled folders (`Training/Training`): a folder whose only content is a namesake folder. */
export function unwrapDoubled(dir: string, list: ListFolder): string {
  const { images, dirs } = list(dir);
  if (images.length === 0 && dirs.length === 1 && dirs[0].toLowerCase() === lastSegment(dir).toLowerCase()) {
    return unwrapDoubled(join(dir, dirs[0]), list);
  }
  return dir;
}
