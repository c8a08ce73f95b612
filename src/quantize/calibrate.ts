import { attr, type Graph } from '../graph/ir.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { i64, numel, type Tensor } from '../graph/tensor.js';
import { probeShapes } from '../runtime/probe-shapes.js';
import { Session } from '../runtime/session.js';

/**
 * How an activation's range is read off the calibration images: 'minmax' takes the extremes (ORT's
 * default); 'percentile' drops the outermost (100 − p)/2 % of the values at each end, as ORT's
 * percentile calibrator does for asymmetric activations, so rare outliers do not stretch the scale.
 */
export type CalibrationMethod = 'minmax' | 'percentile';

export interface Range {
  min: number;
  max: number;
}

/** Normalised float32 NCHW image batches, as the model's input takes them. */
export type CalibrationBatches = Iterable<Tensor<'float32'>> | AsyncIterable<Tensor<'float32'>>;

export interface CalibrateOptions {
  method?: CalibrationMethod;
  /** Kept share for 'percentile' (ORT's default 99.999). */
  percentile?: number;
  threads?: number;
  /** Images per session run, which bounds the memory of the activations of one run. */
  chunk?: number;
}

/**
 * Ranges of the named float values of `g` (its input or node outputs) over the calibration images,
 * in one pass. The statistics are computed inside ORT, on the activations where they are produced:
 * ReduceMin/ReduceMax per value, and for 'percentile' TopK of the k largest and k smallest values,
 * with k the number of values to cut off each end of the whole calibration set. The exact cut points
 * then come from merging the runs' TopK lists. Only these small results cross into JavaScript.
 */
export async function calibrate(
  g: Graph,
  values: readonly string[],
  batches: CalibrationBatches,
  opts: CalibrateOptions = {},
): Promise<Map<string, Range>> {
  const method = opts.method ?? 'minmax';
  const percentile = opts.percentile ?? 99.999;
  if (method !== 'minmax' && method !== 'percentile')
    throw new Error(`calibrate: method '${String(method)}' is not one of minmax, percentile`);
  if (!(percentile > 50 && percentile <= 100))
    throw new Error(`calibrate: percentile ${percentile} must be in (50, 100]`);
  if (g.inputs.length !== 1)
    throw new Error(
      `calibrate: the model needs exactly one input to feed images to; it has ${g.inputs.length}`,
    );
  const input = g.inputs[0];
  const images = await collectBatches(batches, input.shape);
  const fixed = g.clone();
  fixed.inputs[0] = { ...input, shape: ['N', ...images[0].shape.slice(1)] };
  const stats = statsGraph(fixed, values, method === 'percentile');
  const perImage = method === 'percentile' ? await valuesPerImage(fixed, values) : new Map<string, number>();
  const total = images.reduce((s, b) => s + b.shape[0], 0);
  const cut = new Map(
    [...perImage].map(([v, n]) => [v, Math.max(1, Math.round((total * n * (100 - percentile)) / 200))]),
  );

  const session = await Session.create(toOnnxBytes(stats.graph, { untypedOutputs: stats.outputs }), {
    threads: opts.threads,
  });
  const ranges = new Map<string, Range>(values.map((v) => [v, { min: Infinity, max: -Infinity }]));
  const largest = new Map<string, Float32Array>();
  const smallest = new Map<string, Float32Array>();
  const chunk = opts.chunk ?? 8;
  try {
    for (const batch of images)
      for (let i = 0; i < batch.shape[0]; i += chunk) {
        const x = sliceBatch(batch, i, Math.min(i + chunk, batch.shape[0]));
        const feeds: Record<string, Tensor> = { [input.name]: x };
        for (const [v, k] of cut) feeds[stats.k(v)] = i64([1], [Math.min(k, x.shape[0] * perImage.get(v)!)]);
        const out = await session.run(feeds, stats.outputs);
        for (const v of values) {
          const r = ranges.get(v)!;
          r.min = Math.min(r.min, out[stats.min(v)].data[0] as number);
          r.max = Math.max(r.max, out[stats.max(v)].data[0] as number);
          if (!cut.has(v)) continue;
          const k = cut.get(v)!;
          largest.set(
            v,
            mergeTop(largest.get(v), out[stats.top(v)].data as Float32Array, k, (a, b) => a > b),
          );
          smallest.set(
            v,
            mergeTop(smallest.get(v), out[stats.bottom(v)].data as Float32Array, k, (a, b) => a < b),
          );
        }
      }
  } finally {
    await session.release();
  }
  if (method === 'minmax') return ranges;
  // The k-th largest value is the cut point: (100 − p)/2 % of all values lie at or above it.
  return new Map(
    values.map((v) => {
      const hi = largest.get(v)!;
      const lo = smallest.get(v)!;
      return [v, { min: lo[lo.length - 1], max: hi[hi.length - 1] }];
    }),
  );
}

/** The model with its outputs replaced by per-value statistics, and the names they come out as. */
function statsGraph(g: Graph, values: readonly string[], tails: boolean) {
  const s = g.clone();
  s.outputs = [];
  const names = {
    min: (v: string) => `${v}:calibrate.min`,
    max: (v: string) => `${v}:calibrate.max`,
    top: (v: string) => `${v}:calibrate.top`,
    bottom: (v: string) => `${v}:calibrate.bottom`,
    k: (v: string) => `${v}:calibrate.k`,
  };
  const outputs: string[] = [];
  const flatShape = tails ? s.constant(i64([1], [-1]), 'calibrate.flat') : '';
  for (const v of values) {
    s.add('ReduceMin', [v], { outputs: [names.min(v)], attrs: { keepdims: attr.int(0) } });
    s.add('ReduceMax', [v], { outputs: [names.max(v)], attrs: { keepdims: attr.int(0) } });
    outputs.push(names.min(v), names.max(v));
    if (!tails) continue;
    const flat = s.op('Reshape', [v, flatShape]);
    s.inputs.push({ name: names.k(v), dtype: 'int64', shape: [1] });
    s.add('TopK', [flat, names.k(v)], { outputs: [names.top(v), s.fresh('calibrate.index')] });
    s.add('TopK', [flat, names.k(v)], {
      outputs: [names.bottom(v), s.fresh('calibrate.index')],
      attrs: { largest: attr.int(0) },
    });
    outputs.push(names.top(v), names.bottom(v));
  }
  return { graph: s, outputs, ...names };
}

/** Elements per image of each value, from ORT's own shapes of the graph. */
async function valuesPerImage(g: Graph, values: readonly string[]): Promise<Map<string, number>> {
  const shapes = await probeShapes(g);
  return new Map(
    values.map((v) => {
      const dims = shapes.get(v)!;
      if (dims[0] !== 'N' || dims.slice(1).some((d) => typeof d !== 'number'))
        throw new Error(`calibrate: value '${v}' has shape [${dims}], not [N, ...fixed dims]`);
      return [v, numel(dims.slice(1) as number[])];
    }),
  );
}

/** The k most extreme of two lists each sorted most extreme first (TopK's order), merged. */
function mergeTop(
  kept: Float32Array | undefined,
  next: Float32Array,
  k: number,
  before: (a: number, b: number) => boolean,
): Float32Array {
  if (!kept) return next.slice(0, k);
  const out = new Float32Array(Math.min(k, kept.length + next.length));
  for (let o = 0, i = 0, j = 0; o < out.length; o++)
    out[o] = j >= next.length || (i < kept.length && !before(next[j], kept[i])) ? kept[i++] : next[j++];
  return out;
}

async function collectBatches(
  batches: CalibrationBatches,
  shape: readonly (number | string)[],
): Promise<Tensor<'float32'>[]> {
  const out: Tensor<'float32'>[] = [];
  for await (const b of batches) {
    const fits =
      b.dtype === 'float32' &&
      b.shape.length === shape.length &&
      b.shape.every((d, i) => i === 0 || d === (out[0]?.shape[i] ?? d)) &&
      shape.every((d, i) => i === 0 || typeof d !== 'number' || d === b.shape[i]);
    if (!fits)
      throw new Error(
        `calibrate: batch ${out.length} is ${b.dtype} [${b.shape}]; the model takes float32 [${shape}]${out.length ? ` and batch 0 was [${out[0].shape}]` : ''}`,
      );
    if (b.shape[0] > 0) out.push(b);
  }
  if (!out.length) throw new Error('calibrate: no calibration images were given');
  return out;
}

function sliceBatch(t: Tensor<'float32'>, from: number, to: number): Tensor<'float32'> {
  const per = t.data.length / t.shape[0];
  return {
    dtype: 'float32',
    shape: [to - from, ...t.shape.slice(1)],
    data: t.data.subarray(from * per, to * per),
  };
}
