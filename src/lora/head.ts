import { attr, type Graph } from '../graph/ir.js';
import type { Tensor } from '../graph/tensor.js';
import type { Rng } from '../random/rng.js';
import { kaimingUniform } from './init.js';

export const HEAD_WEIGHT = 'fc.weight';
export const HEAD_BIAS = 'fc.bias';
export const HEAD_NODE = 'fc';

/** Appends the new classification head, Linear(features -> classes), with trainable weight and bias inputs. */
export function addHead(g: Graph, features: string, featureDim: number, numClasses: number): string {
  g.inputs.push(
    { name: HEAD_WEIGHT, dtype: 'float32', shape: [numClasses, featureDim] },
    { name: HEAD_BIAS, dtype: 'float32', shape: [numClasses] },
  );
  return g.op('Gemm', [features, HEAD_WEIGHT, HEAD_BIAS], { transB: attr.int(1) }, HEAD_NODE);
}

/** nn.Linear's default init: weight and bias uniform in ±1/√in. */
export function initHead(
  rng: Rng,
  featureDim: number,
  numClasses: number,
): [Tensor<'float32'>, Tensor<'float32'>] {
  return [
    {
      dtype: 'float32',
      shape: [numClasses, featureDim],
      data: kaimingUniform(rng, numClasses * featureDim, featureDim),
    },
    { dtype: 'float32', shape: [numClasses], data: kaimingUniform(rng, numClasses, featureDim) },
  ];
}
