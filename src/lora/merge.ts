import { attr, type Graph } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import { branchScale } from './inject.js';
import { HEAD_BIAS, HEAD_WEIGHT } from './head.js';
import type { LoraModel } from './lora-model.js';

/** The branch's B·A times its per-channel scale, as a conv weight [out, in, kh, kw], accumulated in float64. */
function delta(model: LoraModel, site: LoraModel['sites'][number]): Float64Array {
  const a = model.params.get(site.a)!.data;
  const b = model.params.get(site.b)!.data;
  const [r, cin, kh, kw] = site.shapeA;
  const cols = cin * kh * kw;
  const cout = site.shapeB[0];
  const scale = branchScale(model.config, cout, model.backbone.bnScales.get(site.node));
  const out = new Float64Array(cout * cols);
  for (let o = 0; o < cout; o++)
    for (let k = 0; k < r; k++) {
      const bok = b[o * r + k] * scale[o];
      if (bok === 0) continue;
      for (let j = 0; j < cols; j++) out[o * cols + j] += bok * a[k * cols + j];
    }
  return out;
}

function shiftWeights(g: Graph, model: LoraModel, sign: 1 | -1): void {
  for (const site of model.sites) {
    const node = g.node(site.node);
    const w = g.initializers.get(node.inputs[1]) as Tensor<'float32'>;
    const d = delta(model, site);
    const data = new Float32Array(w.data.length);
    for (let i = 0; i < data.length; i++) data[i] = w.data[i] + sign * d[i];
    g.initializers.set(node.inputs[1], { dtype: 'float32', shape: [...w.shape], data });
  }
}

/**
 * Folds the adapters into the base conv weights (W + B·A·alpha/r) and bakes in the head: a plain
 * `input -> logits` graph with no LoRA nodes, ready for any ONNX runtime.
 */
export function mergeLora(model: LoraModel): Graph {
  const g = model.backbone.graph.clone();
  shiftWeights(g, model, 1);
  const w = g.constant(model.params.get(HEAD_WEIGHT)!, HEAD_WEIGHT);
  const b = g.constant(model.params.get(HEAD_BIAS)!, HEAD_BIAS);
  g.add('Gemm', ['features', w, b], { name: 'fc', outputs: ['logits'], attrs: { transB: attr.int(1) } });
  g.outputs = [
    { name: 'logits', dtype: 'float32', shape: ['N', model.numClasses] },
    { name: 'features', dtype: 'float32', shape: ['N', model.backbone.featureDim] },
  ];
  return g;
}

/** Undoes `mergeLora` on the backbone part: W - B·A·alpha/r, returning the base `input -> features` graph. */
export function unmergeLora(merged: Graph, model: LoraModel): Graph {
  const g = merged.clone();
  shiftWeights(g, model, -1);
  g.outputs = g.outputs.filter((o) => o.name === 'features');
  g.prune();
  return g;
}
