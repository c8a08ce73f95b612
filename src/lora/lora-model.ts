import type { Graph } from '../graph/ir.js';
import { toFloat32, type Tensor } from '../graph/tensor.js';
import type { Backbone } from '../models/backbone.js';
import { Rng } from '../random/rng.js';
import type { LoraConfig } from './config.js';
import { doraNorms, magnitudeShape } from './dora.js';
import { addHead, HEAD_BIAS, HEAD_WEIGHT, initHead } from './head.js';
import { kaimingUniform } from './init.js';
import { injectLora, type LoraSite } from './inject.js';

/** A backbone with LoRA adapters and a new head: the graph maps `input` to `logits`; trainables are graph inputs. */
export interface LoraModel {
  backbone: Backbone;
  config: LoraConfig;
  numClasses: number;
  graph: Graph;
  sites: LoraSite[];
  /** Trainable tensors by graph-input name, adapters first (in graph order), then the head. */
  params: Map<string, Tensor<'float32'>>;
}

export interface AddLoraOptions {
  numClasses?: number;
  /** Seeds the adapter and head init. */
  seed?: number;
}

/**
 * Adapts a frozen backbone: PEFT init (A kaiming-uniform(a=√5), B zeros, a DoRA magnitude ‖W‖ per output
 * channel of the unfolded weight) and nn.Linear init for the head.
 */
export function addLora(backbone: Backbone, config: LoraConfig, opts: AddLoraOptions = {}): LoraModel {
  const numClasses = opts.numClasses ?? 2;
  const rng = new Rng(opts.seed ?? 0);
  const graph = backbone.graph.clone();
  const sites = injectLora(graph, config, backbone.bnScales);
  const logits = addHead(graph, 'features', backbone.featureDim, numClasses);
  graph.add('Identity', [logits], { name: 'logits', outputs: ['logits'] });
  graph.outputs = [{ name: 'logits', dtype: 'float32', shape: ['N', numClasses] }];

  const params = new Map<string, Tensor<'float32'>>();
  for (const s of sites) {
    const [r, cin, kh, kw] = s.shapeA;
    params.set(s.a, {
      dtype: 'float32',
      shape: s.shapeA,
      data: kaimingUniform(rng, r * cin * kh * kw, cin * kh * kw),
    });
    params.set(s.b, { dtype: 'float32', shape: s.shapeB, data: new Float32Array(s.shapeB[0] * s.shapeB[1]) });
    if (s.magnitude) {
      const w = toFloat32(backbone.graph.initializers.get(backbone.graph.node(s.node).inputs[1])!);
      const norms = doraNorms(s.node, w, undefined, backbone.bnScales.get(s.node));
      params.set(s.magnitude, {
        dtype: 'float32',
        shape: magnitudeShape(s.shapeB[0]),
        data: Float32Array.from(norms),
      });
    }
  }
  const [w, b] = initHead(rng, backbone.featureDim, numClasses);
  params.set(HEAD_WEIGHT, w);
  params.set(HEAD_BIAS, b);
  return { backbone, config, numClasses, graph, sites, params };
}

/**
 * Overwrites trainable values in place (e.g. from a saved adapter), checking names and shapes; in place
 * so that compiled steps and optimizers holding these arrays see the new values. Nothing is written
 * unless every tensor checks out.
 */
export function loadParams(model: LoraModel, values: Map<string, Tensor>, where: string): void {
  for (const [name, current] of model.params) {
    const t = values.get(name);
    if (!t) throw new Error(`${where}: missing tensor '${name}'`);
    if (t.dtype !== 'float32') throw new Error(`${where}: '${name}' is ${t.dtype}, expected float32`);
    if (t.shape.join(',') !== current.shape.join(','))
      throw new Error(`${where}: '${name}' has shape [${t.shape}], expected [${current.shape}]`);
  }
  for (const [name, current] of model.params) current.data.set(values.get(name)!.data as Float32Array);
}
