import { loadSafetensors, saveSafetensors } from '../weights/safetensors-file.js';
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
  /** How many values the weight average holds (0: none yet). */
  averaged: number;
}

export interface Checkpoint {
  params: Map<string, Float32Array>;
  optimizer: StateDict;
  /** The weight average (EMA or SWA) by trainable name; empty when the run takes none (yet). */
  average: Map<string, Float32Array>;
  progress: TrainProgress;
}

const PARAM = 'param/';
const OPT = 'optim/';
const AVG = 'average/';

/**
 * One safetensors file holds trainables, optimizer moments and (as metadata) the progress, so a single
 * atomic rename makes a checkpoint consistent: a crash, a full disk or Ctrl-C never leaves half of one.
 */
export async function saveCheckpoint(path: string, c: Checkpoint): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [name, data] of c.params)
    tensors.set(PARAM + name, { dtype: 'float32', shape: [data.length], data });
  for (const [name, data] of c.average)
    tensors.set(AVG + name, { dtype: 'float32', shape: [data.length], data });
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

/**
 * Reads a checkpoint and refuses it, naming the first mismatch, unless it was made with the settings
 * of `expect.configHash` and holds exactly the trainables of `expect.params` (same names and sizes)
 * and optimizer state of those sizes for each of them.
 */
export async function loadCheckpoint(
  path: string,
  expect: { configHash: string; params: ReadonlyMap<string, { data: Float32Array }> },
): Promise<Checkpoint> {
  const { tensors, metadata } = await loadSafetensors(path);
  const fail = (problem: string): never => {
    throw new Error(
      `${path}${problem}; pass the options the run was started with, or start a new run folder`,
    );
  };
  if (!metadata.progress) fail(': not a smoker-lora training checkpoint (no progress record)');
  const progress = parseJson(metadata.progress, 'progress', fail) as TrainProgress;
  if (progress.configHash !== expect.configHash) fail(' was made with other settings');
  const params = new Map<string, Float32Array>();
  const average = new Map<string, Float32Array>();
  const optimizer: StateDict = {};
  const scalars = parseJson(metadata.optimizer_scalars ?? '{}', 'optimizer_scalars', fail);
  for (const [k, v] of Object.entries(scalars as Record<string, unknown>)) {
    if (typeof v !== 'number') fail(`: optimizer scalar '${k}' is not a number`);
    optimizer[k] = v as number;
  }
  for (const [k, t] of tensors) {
    if (t.dtype !== 'float32') fail(`: '${k}' is ${t.dtype}, expected float32`);
    const data = t.data as Float32Array;
    if (k.startsWith(PARAM)) params.set(k.slice(PARAM.length), data);
    else if (k.startsWith(OPT)) optimizer[k.slice(OPT.length)] = data;
    else if (k.startsWith(AVG)) average.set(k.slice(AVG.length), data);
    else fail(`: unexpected tensor '${k}'`);
  }
  for (const [name, t] of expect.params) {
    const saved = params.get(name);
    if (!saved) fail(`: no trainable '${name}'`);
    else if (saved.length !== t.data.length)
      fail(`: trainable '${name}' has ${saved.length} values, the model has ${t.data.length}`);
    if (!Object.keys(optimizer).some((k) => k.startsWith(`${name}.`)))
      fail(`: no optimizer state for '${name}'`);
  }
  for (const name of params.keys())
    if (!expect.params.has(name)) fail(`: trainable '${name}' is not in the model`);
  for (const [name, data] of average)
    if (expect.params.get(name)?.data.length !== data.length)
      fail(`: the weight average's '${name}' does not match a trainable of the model`);
  if (average.size > 0 && average.size !== expect.params.size)
    fail(': the weight average is missing trainables');
  for (const [k, v] of Object.entries(optimizer)) {
    if (typeof v === 'number') continue;
    const owner = [...expect.params.keys()].find((name) => k.startsWith(`${name}.`));
    if (!owner) fail(`: optimizer state '${k}' belongs to no trainable of the model`);
    else if (v.length !== expect.params.get(owner)!.data.length)
      fail(
        `: optimizer state '${k}' has ${v.length} values, '${owner}' has ${expect.params.get(owner)!.data.length}`,
      );
  }
  return { params, optimizer, average, progress };
}

function parseJson(text: string, what: string, fail: (problem: string) => never): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fail(`: its ${what} record is not valid JSON`);
  }
}
