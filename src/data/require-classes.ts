/** Refuses fewer than two classes, naming the data as `where` (the CLI's `--data <path>`, the page's folder). */
export function requireClasses(classes: readonly string[], where: string): void {
  if (classes.length < 2)
    throw new Error(
      `${where}: found ${classes.length} class${classes.length === 1 ? '' : 'es'} (${classes.join(', ')}); smoker-lora needs two or more classes`,
    );
}
