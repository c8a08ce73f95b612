import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';
import type { Graph } from '../../src/graph/ir.js';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { f32, type Tensor } from '../../src/graph/tensor.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora } from '../../src/lora/lora-model.js';
import { mergeLora } from '../../src/lora/merge.js';
import type { Preprocess } from '../../src/models/backbone.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { Rng } from '../../src/random/rng.js';
import { Session } from '../../src/runtime/session.js';
import { seedLoraB } from '../helpers/lora-b.js';

export const SIZE = 64;

/** A random ResNet-18 at 64x64 with non-zero LoRA adapters merged in: a run's `input -> logits, features`. */
export function mergedResNet18(seed = 3): Graph {
  const backbone = buildResNet(18, randomResNetStateDict(18, seed));
  const model = addLora(backbone, { r: 4, alpha: 8, targets: defaultTargets(backbone) }, { seed });
  seedLoraB(model, new Rng(seed + 1), 0.01);
  return mergeLora(model);
}

/** Standard-normal images, as normalised photos roughly are. */
export function randomImages(n: number, seed: number, size = SIZE): Tensor<'float32'> {
  const rng = new Rng(seed);
  return f32(
    [n, 3, size, size],
    Float32Array.from({ length: n * 3 * size * size }, () => rng.normal()),
  );
}

/** Decoded, resized and normalised image files as one batch. */
export async function loadImages(paths: string[], p: Preprocess): Promise<Tensor<'float32'>> {
  const [h, w] = p.size;
  const x = f32([paths.length, 3, h, w]);
  for (const [k, path] of paths.entries()) {
    const { rgb } = await decodeResized(path, p.size);
    x.data.set(toCHW(rgb, p.size, p), k * 3 * h * w);
  }
  return x;
}

/** Every output of a model run in onnxruntime-node on one thread. */
export async function run(g: Graph, input: Tensor<'float32'>): Promise<Record<string, Float32Array>> {
  const s = await Session.create(g, { threads: 1 });
  try {
    const out = await s.run({ input });
    return Object.fromEntries(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
  } finally {
    await s.release();
  }
}

/** Op counts (`op` or `domain:op`) of the graph ORT's CPU provider actually runs, at optimisation level 'all'. */
export async function optimizedOps(model: Graph | Uint8Array): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'smoker-lora-optimized-'));
  try {
    const path = join(dir, 'model.onnx');
    const bytes = model instanceof Uint8Array ? model : toOnnxBytes(model);
    const s = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      optimizedModelFilePath: path,
      logSeverityLevel: 3,
    });
    await s.release();
    const counts: Record<string, number> = {};
    for (const n of fromOnnxBytes(readFileSync(path), path).nodes) {
      const key = n.domain ? `${n.domain}:${n.op}` : n.op;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a model in onnxruntime-web (its WebAssembly provider, in Node) and returns one output. */
export async function runWeb(
  model: Graph,
  input: Tensor<'float32'>,
  output = 'logits',
): Promise<Float32Array> {
  const web = await import('onnxruntime-web');
  web.env.wasm.numThreads = 1;
  const s = await web.InferenceSession.create(toOnnxBytes(model), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  try {
    const res = await s.run({ input: new web.Tensor('float32', input.data, input.shape) }, [output]);
    return res[output].data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Largest |a − b| relative to the largest |b|: output agreement on the output's own scale. */
export function relMaxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

/** Index of the largest value of each row. */
export function argmaxRows(x: Float32Array, cols: number): number[] {
  return Array.from({ length: x.length / cols }, (_, r) => {
    const row = x.subarray(r * cols, (r + 1) * cols);
    return row.indexOf(Math.max(...row));
  });
}
