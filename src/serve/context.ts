import type { Explanation } from '../eval/grad-cam.js';
import type { SavedModel } from '../run/saved-model.js';
import type { BatchQueue } from './batch-queue.js';
import type { UploadDecoder } from './image-input.js';
import type { BackboneFile, ImageOutputs, ModelFile, RunMetrics } from './inference.js';
import type { ServeOptions } from './options.js';

/** What the routes share: the settings, the loaded run and its batch queues. */
export interface ServerContext {
  opts: Required<Omit<ServeOptions, 'threads' | 'log' | 'modelName' | 'backbone'>> & {
    threads?: number;
    modelName?: string;
    backbone?: string;
  };
  model: SavedModel;
  modelFile: ModelFile;
  metrics: RunMetrics | null;
  /** The ONNX backbone offered to the page's Train view; absent when there is none (see backboneError). */
  backbone?: BackboneFile;
  backboneError?: string;
  /** Each image's logits and class probabilities. */
  predictQueue: BatchQueue<Float32Array, ImageOutputs>;
  /** Absent when Grad-CAM could not be built for this model (see explainError). */
  explainQueue?: BatchQueue<Float32Array, Explanation>;
  explainError?: string;
  decoder: UploadDecoder;
  /** The model's name in the v2 protocol, and this server's version. */
  modelName: string;
  version: string;
  started: number;
  log(line: string): void;
}
