import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { probabilities, withViews } from '../classify/classify.js';
import { packBatch } from '../data/pack-batch.js';
import type { ModelMetrics } from '../eval/model-metrics.js';
import { MODEL_FILE_OF, RUN_FILES, type Precision } from '../run/files.js';
import type { SavedModel } from '../run/saved-model.js';

/** One image's answer: the model's logits for it, and its class probabilities by the convention. */
export interface ImageOutputs {
  logits: Float32Array;
  probabilities: Float32Array;
}

/**
 * The outputs of each of a batch of planar [3,H,W] images, in ONE model call, by the classifier
 * convention: with the run's test-time flip the mirrored images ride in the same call (the logits are
 * the image's own, the probabilities the mean over both views).
 */
export async function classify(model: SavedModel, images: Float32Array[]): Promise<ImageOutputs[]> {
  const size = model.preprocess.size;
  const { tta } = model.info;
  const input = packBatch([withViews(packBatch(images, size).data, size[1], tta)], size);
  const k = model.classes.length;
  const logits = await model.logits(input);
  const probs = probabilities(logits, k, tta);
  return images.map((_, i) => ({
    logits: logits.slice(i * k, (i + 1) * k),
    probabilities: probs.subarray(i * k, (i + 1) * k),
  }));
}

export interface ModelFile {
  path: string;
  bytes: number;
  sha256: string;
  /** The run folder's name and a short hash of the model file, e.g. 'run15@3fa2c1d9e0b4'. */
  id: string;
  precision: Precision;
}

/** An ONNX backbone file on the server, and the name the API gives it (never its path). */
export interface BackboneFile {
  path: string;
  name: string;
  bytes: number;
  sha256: string;
}

/** A file's size and sha256, hashed as a stream (a model can be hundreds of MB). */
export async function hashFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { bytes: (await stat(path)).size, sha256: hash.digest('hex') };
}

/** The run's model file of that precision, hashed. */
export async function describeModelFile(runDir: string, precision: Precision = 'fp32'): Promise<ModelFile> {
  const path = join(runDir, MODEL_FILE_OF[precision]);
  const { bytes, sha256 } = await hashFile(path);
  return { path, bytes, sha256, id: `${basename(resolve(runDir))}@${sha256.slice(0, 12)}`, precision };
}

/** The run's validation metrics (binary or K-class) without the ROC curve's points. */
export type RunMetrics = Partial<Omit<ModelMetrics, 'roc'>>;

/** The run's metrics.json, or null if absent or unreadable (the server runs without it). */
export async function readRunMetrics(runDir: string): Promise<RunMetrics | null> {
  try {
    const m = JSON.parse(await readFile(join(runDir, RUN_FILES.metrics), 'utf8')) as Record<string, unknown>;
    delete m.roc;
    return m as RunMetrics;
  } catch {
    return null;
  }
}
