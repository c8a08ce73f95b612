import { parentPort, workerData } from 'node:worker_threads';
import type { Preprocess } from '../models/backbone.js';
import { type AugmentConfig, Augmenter } from './augment.js';
import { epochImage } from './epoch-images.js';
import { ImageStore } from './image-store.js';

/** What a loader worker is started with. */
export interface LoaderWorkerData {
  buffer: ArrayBufferLike;
  count: number;
  preprocess: Preprocess;
  augment: AugmentConfig | undefined;
  seed: number;
}

/** One request: these images of the store, augmented as in `epoch`, normalised, back to back. */
export interface ChunkRequest {
  epoch: number;
  indices: number[];
}

const data = workerData as LoaderWorkerData;
const { size } = data.preprocess;
const store = new ImageStore(data.count, size, data.buffer);
const augmenter = data.augment ? new Augmenter(data.augment) : undefined;
const chw = 3 * size[0] * size[1];

function chunk({ epoch, indices }: ChunkRequest): Float32Array {
  const out = new Float32Array(indices.length * chw);
  indices.forEach((index, k) =>
    out.set(epochImage(store, index, epoch, data.seed, data.preprocess, augmenter), k * chw),
  );
  return out;
}

parentPort!.on('message', (msg: ChunkRequest & { id: number }) => {
  try {
    const result = chunk(msg);
    parentPort!.postMessage({ id: msg.id, result }, [result.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message });
  }
});
