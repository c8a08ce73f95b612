/** The smoking data set's classes, in label order. */
export const SMOKING_CLASSES = ['notsmoking', 'smoking'];

/** Label from a Kaggle file name: 'notsmoking_…' → 0, 'smoking_…' → 1 (the 'not' prefix is checked first). */
export function labelFromFileName(name: string): number | undefined {
  const n = name.toLowerCase();
  if (n.startsWith('notsmoking_')) return 0;
  if (n.startsWith('smoking_')) return 1;
  return undefined;
}

/** A class folder's smoking-set label, whatever its spelling ('Not_Smoking', 'non-smoking', 'smoking'). */
export function smokingLabelOfFolder(name: string): number | undefined {
  const key = name.toLowerCase().replace(/[^a-z]/g, '');
  if (key === 'notsmoking' || key === 'nonsmoking' || key === 'nosmoking') return 0;
  if (key === 'smoking') return 1;
  return undefined;
}

/**
 * Classes for a set of class-folder names: the smoking set's two classes when every name is one of
 * their spellings, otherwise torchvision ImageFolder's rule (the names, sorted).
 */
export function classesOfFolders(names: Iterable<string>): {
  classes: string[];
  labelOf: (name: string) => number;
} {
  const unique = [...new Set(names)].sort();
  if (unique.every((n) => smokingLabelOfFolder(n) !== undefined)) {
    return { classes: SMOKING_CLASSES, labelOf: (n) => smokingLabelOfFolder(n)! };
  }
  return { classes: unique, labelOf: (n) => unique.indexOf(n) };
}
