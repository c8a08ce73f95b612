import type { CalibrationMethod } from '../quantize/calibrate.js';
import type { ExportSource } from './source.js';

/** What `smoker-lora export` takes besides the run and the format. */
export interface ExportOptions {
  /** The folder to write: new, or empty. */
  out: string;
  /** Where the run's training images are, for int8 calibration (default: config.json's `data`). */
  data?: string;
  /** Training images int8 calibration measures activation ranges on. */
  calibration: number;
  calibrationMethod: CalibrationMethod;
  /** The model's name in a Triton repository (default: the run folder's, as `serve` names it). */
  name?: string;
  /** Triton's max_batch_size and our server's --max-batch alike. */
  maxBatch: number;
  threads?: number;
}

/** One export format: writes its files into `o.out` and returns their paths relative to it. */
export type Exporter = (src: ExportSource, o: ExportOptions) => Promise<string[]>;
