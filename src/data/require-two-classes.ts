import type { Dataset } from './discover-layout.js';

/** Refuses a data set that is not two-class, naming it as `where` (the CLI's `--data <path>`, the page's folder). */
export function requireTwoClasses(ds: Dataset, where: string): void {
  if (ds.classes.length !== 2)
    throw new Error(
      `${where}: found ${ds.classes.length} classes (${ds.classes.join(', ')}); smoker-lora trains a two-class detector`,
    );
}
