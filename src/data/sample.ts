/** One labelled image file. */
export interface Sample {
  /** Absolute path. */
  path: string;
  /** Index into the data set's `classes`. */
  label: number;
}
