import { attr, type Graph } from '../graph/ir.js';
import { toFloat32, type Tensor } from '../graph/tensor.js';
import { doraNorms, doraScale } from './dora.js';
import { branchScale } from './inject.js';
import { HEAD_BIAS, HEAD_NODE, HEAD_WEIGHT } from './head.js';
import type { LoraModel } from './lora-model.js';

/**
 * What merging adds to the base conv weight W, as [out, in, kh, kw] in float64: the branch's B·A times its
 * per-channel scale, and with DoRA (m/n)·(W + that) − W (see dora.ts).
 */
function delta(model: LoraModel, site: LoraModel['sites'][number]): Float64Array {
  const a = model.params.get(site.a)!.data;
  const b = model.params.get(site.b)!.data;
  const [r, cin, kh, kw] = site.shapeA;
  const cols = cin * kh * kw;
  const cout = site.shapeB[0];
  const bnScale = model.backbone.bnScales.get(site.node);
  const scale = branchScale(model.config, site, bnScale);
  const out = new Float64Array(cout * cols);
  for (let o = 0; o < cout; o++)
    for (let k = 0; k < r; k++) {
      const bok = b[o * r + k] * scale[o];
      if (bok === 0) continue;
      for (let j = 0; j < cols; j++) out[o * cols + j] += bok * a[k * cols + j];
    }
  if (!site.magnitude) return out;
  const g = model.backbone.graph;
  const w = toFloat32(g.initializers.get(g.node(site.node).inputs[1])!);
  const n = doraNorms(site.node, w, out, bnScale);
  const m = model.params.get(site.magnitude)!.data;
  for (let o = 0; o < cout; o++) {
    const k = doraScale(m[o], n[o]);
    for (let j = o * cols; j < (o + 1) * cols; j++) out[j] = k * (w.data[j] + out[j]) - w.data[j];
  }
  return out;
}

/** W + sign × the mean of the models' B·A·scale, summed in float64: one model's delta, or a soup's. */
function shiftWeights(g: Graph, models: readonly LoraModel[], sign: 1 | -1): void {
  for (const site of models[0].sites) {
    const node = g.node(site.node);
    const w = g.initializers.get(node.inputs[1]) as Tensor<'float32'>;
    const sum = new Float64Array(w.data.length);
    for (const m of models) {
      const d = delta(
        m,
        m.sites.find((s) => s.node === site.node)!,
      );
      for (let i = 0; i < sum.length; i++) sum[i] += d[i];
    }
    const data = new Float32Array(w.data.length);
    for (let i = 0; i < data.length; i++) data[i] = w.data[i] + sign * (sum[i] / models.length);
    g.initializers.set(node.inputs[1], { dtype: 'float32', shape: [...w.shape], data });
  }
}

/** The mean of the models' values of one trainable (the value itself for one model). */
function meanParam(models: readonly LoraModel[], name: string): Tensor<'float32'> {
  const first = models[0].params.get(name)!;
  const sum = new Float64Array(first.data.length);
  for (const m of models) {
    const v = m.params.get(name)!.data;
    for (let i = 0; i < sum.length; i++) sum[i] += v[i];
  }
  return {
    dtype: 'float32',
    shape: [...first.shape],
    data: Float32Array.from(sum, (v) => v / models.length),
  };
}

/**
 * Folds the adapters into the base conv weights (W + B·A·alpha/r; with DoRA (m/n)·(W + B·A·alpha/r)) and
 * bakes in the head: a plain `input -> logits` graph with no LoRA nodes, ready for any ONNX runtime.
 */
export function mergeLora(model: LoraModel): Graph {
  return mergeSoup([model]);
}

/**
 * A model soup of LoRA runs on one backbone with one LoRA config (say, the models of the folds of a
 * cross-validation): each adapted conv gets W + the mean of the runs' merged updates B·A·scale (the
 * deltas are averaged, not A and B apart, whose product would not be the mean), and the head is the
 * mean of the heads. One plain model, as cheap to run as any one of them.
 */
export function mergeSoup(models: readonly LoraModel[]): Graph {
  if (models.length === 0) throw new Error('soup: no models');
  const [first] = models;
  const sites = (m: LoraModel) => m.sites.map((s) => `${s.node}:${s.shapeA}:${s.shapeB}`).join();
  if (models.some((m) => m.backbone !== first.backbone || sites(m) !== sites(first)))
    throw new Error('soup: the models must share one backbone and one LoRA configuration');
  const g = first.backbone.graph.clone();
  shiftWeights(g, models, 1);
  const w = g.constant(meanParam(models, HEAD_WEIGHT), HEAD_WEIGHT);
  const b = g.constant(meanParam(models, HEAD_BIAS), HEAD_BIAS);
  g.add('Gemm', ['features', w, b], { name: HEAD_NODE, outputs: ['logits'], attrs: { transB: attr.int(1) } });
  g.outputs = [
    { name: 'logits', dtype: 'float32', shape: ['N', first.numClasses] },
    { name: 'features', dtype: 'float32', shape: ['N', first.backbone.featureDim] },
  ];
  return g;
}

/** Undoes `mergeLora` on the backbone part: W - B·A·alpha/r, returning the base `input -> features` graph. */
export function unmergeLora(merged: Graph, model: LoraModel): Graph {
  const g = merged.clone();
  shiftWeights(g, [model], -1);
  g.outputs = g.outputs.filter((o) => o.name === 'features');
  g.prune();
  return g;
}
