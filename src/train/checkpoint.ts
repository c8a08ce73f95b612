import { loadSafetensors, saveSafetensors } from '../weights/safetensors.js';
import type { Tensor } from '../graph/tensor.js';
import type { StateDict } from './optim/optimizer.js';
import type { EpochRecord } from './history.js';

/** Everything besides tensors that a resumed run needs to continue exactly where it stopped. */
export interface TrainProgress {
  /** The epoch in progress (0-based) and how many of its batches are done. */
  epoch: number;
  batch: number;
  globalStep: number;
  history: EpochRecord[];
  best: { valAcc: number; valLoss: number; epoch: number } | null;
  /** Epoch-level running sums of the epoch in progress. */
  running: { loss: number; correct: number; seen: number; seconds: number; waitMs: number };
  /** Fingerprint of the settings the run was started with; resuming with others is refused. */
  configHash: string;
}

export interface Checkpoint {
  params: Map<string, Float32Array>;
  optimizer: StateDict;
  progress: TrainProgress;
}

const PARAM = 'param/';
const OPT = 'optim/';

/**
 * One safetensors file holds trainables, optimizer moments and (as metadata) the progress, so a single
 * atomic rename makes a checkpoint consistent: a crash, a full disk or Ctrl-C never leaves half of one.
 */
export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [name, data] of c.params)
    tensors.set(PARAM + name, { dtype: 'float32', shape: [data.length], data });
  const scalars: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.optimizer)) {
    if (typeof v === 'number') scalars[k] = v;
    else tensors.set(OPT + k, { dtype: 'float32', shape: [v.length], data: v });
  }
  await saveSafetensors(path, tensors, {
    progress: JSON.stringify(c.progress),
    optimizer_scalars: JSON.stringify(scalars),
  });
}

export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const { tensors, metadata } = await loadSafetensors(path);
  if (!metadata.progress)
    throw new Error(`${path}: not a smoker-lora training checkpoint (no progress record)`);
  const params = new Map<string, Float32Array>();
  const optimizer: StateDict = JSON.parse(metadata.optimizer_scalars ?? '{}') as Record<string, number>;
  for (const [k, t] of tensors) {
    if (t.dtype !== 'float32') throw new Error(`${path}: '${k}' is ${t.dtype}, expected float32`);
    if (k.startsWith(PARAM)) params.set(k.slice(PARAM.length), t.data as Float32Array);
    else if (k.startsWith(OPT)) optimizer[k.slice(OPT.length)] = t.data as Float32Array;
  }
  return { params, optimizer, progress: JSON.parse(metadata.progress) as TrainProgress };
}
