import type { Explanation } from '../eval/grad-cam.js';
import type { SavedModel } from '../run/saved-model.js';
import type { BatchQueue } from './batch-queue.js';
import type { UploadDecoder } from './image-input.js';
import type { ModelFile, RunMetrics } from './inference.js';
import type { ServeOptions } from './options.js';

/** What the routes share: the settings, the loaded run and its batch queues. */
export interface ServerContext {
  opts: Required<Omit<ServeOptions, 'threads' | 'log'>> & { threads?: number };
  model: SavedModel;
  modelFile: ModelFile;
  metrics: RunMetrics | null;
  /** Each image's class probabilities. */
  predictQueue: BatchQueue<Float32Array, Float32Array>;
  /** Absent when Grad-CAM could not be built for this model (see explainError). */
  explainQueue?: BatchQueue<Float32Array, Explanation>;
  explainError?: string;
  decoder: UploadDecoder;
  started: number;
  log(line: string): void;
}
