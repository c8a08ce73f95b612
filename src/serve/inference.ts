import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { f32 } from '../graph/tensor.js';
import type { Metrics } from '../eval/metrics.js';
import { addSoftmax, flipBatch } from '../eval/predict.js';
import type { SavedModel } from '../eval/saved-model.js';
import { RUN_FILES } from '../train/run-files.js';

/**
 * P(positive class) for a batch of planar [3,H,W] images in ONE model call. With test-time flip (the
 * run's `tta`) the mirrored images ride in the same call: [x; flip(x)] is one batch of 2N.
 */
export async function positiveProbabilities(
  model: SavedModel,
  images: Float32Array[],
  tta: boolean,
): Promise<number[]> {
  const [h, w] = model.preprocess.size;
  const per = 3 * h * w;
  const n = images.length;
  const input = f32([n, 3, h, w]);
  images.forEach((x, i) => input.data.set(x, i * per));
  const c = model.classes.length;
  const soft = new Float32Array(n * c);
  if (tta) {
    const both = f32([2 * n, 3, h, w]);
    both.data.set(input.data);
    both.data.set(flipBatch(input).data, n * per);
    const logits = await model.logits(both);
    addSoftmax(logits.subarray(0, n * c), c, soft, 0.5);
    addSoftmax(logits.subarray(n * c), c, soft, 0.5);
  } else {
    addSoftmax(await model.logits(input), c, soft, 1);
  }
  return Array.from({ length: n }, (_, i) => soft[i * c + c - 1]);
}

export interface ModelFile {
  path: string;
  bytes: number;
  sha256: string;
  /** The run folder's name and a short hash of model.onnx, e.g. 'run15@3fa2c1d9e0b4'. */
  id: string;
}

/** Hashes the run's model.onnx as a stream (it can be hundreds of MB). */
export async function describeModelFile(runDir: string): Promise<ModelFile> {
  const path = join(runDir, RUN_FILES.model);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  const { size } = await stat(path);
  return { path, bytes: size, sha256, id: `${basename(resolve(runDir))}@${sha256.slice(0, 12)}` };
}

/** The run's validation metrics (metrics.json) without the ROC curve's points, or null if absent. */
export async function readRunMetrics(runDir: string): Promise<Partial<Metrics> | null> {
  try {
    const m = JSON.parse(await readFile(join(runDir, RUN_FILES.metrics), 'utf8')) as Record<string, unknown>;
    delete m.roc;
    return m as Partial<Metrics>;
  } catch {
    return null;
  }
}
