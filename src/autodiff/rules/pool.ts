import { attr, type Node } from '../../graph/ir.js';
import { f32 } from '../../graph/tensor.js';
import type { GradContext, GradRule, RuleTable } from '../rule.js';
import {
  channels,
  flippedConvApplies,
  geometry,
  type Geometry,
  inputGradByConv,
  inputGradByConvTranspose,
  outputSize,
  spatialShape,
} from './conv.js';
import { Emitter, intAttr, intsAttr, where } from './util.js';

/** dX = dY / (H*W) broadcast back over H and W. */
const globalAveragePool: GradRule = (ctx, node, [dY]) => {
  if (!dY) return [];
  const x = node.inputs[0];
  const [h, w] = spatialShape(ctx, x, node);
  const e = Emitter.for(ctx, node);
  const scaled = e.op('Mul', [dY, e.constant(f32([], [1 / (h * w)]), 'scale')]);
  return [e.op('Expand', [scaled, e.op('Shape', [x])])];
};

function poolGeometry(ctx: GradContext, node: Node): Geometry {
  const kernel = intsAttr(node, 'kernel_shape');
  if (!kernel) throw new Error(`autodiff: ${where(node)} has no kernel_shape`);
  if (intAttr(node, 'ceil_mode', 0) !== 0)
    throw new Error(`autodiff: ${where(node)} has ceil_mode=1; only 0 is supported`);
  return geometry(ctx, node, kernel, channels(ctx, node.inputs[0], node));
}

/** How many input positions each window along one axis covers, pads excluded (count_include_pad=0). */
function windowCounts(geo: Geometry, axis: number, outSize: number): number[] {
  const [k, s, pad, size] = [geo.kernel[axis], geo.strides[axis], geo.pads[axis], geo.input[axis]];
  return Array.from(
    { length: outSize },
    (_, i) => Math.min(i * s - pad + k, size) - Math.max(i * s - pad, 0),
  );
}

/** [Ho, Wo] map of 1 / (valid positions in each window), which broadcasts over N and C. */
function reciprocalCounts(geo: Geometry): number[] {
  const [ho, wo] = outputSize(geo);
  const rows = windowCounts(geo, 0, ho);
  const cols = windowCounts(geo, 1, wo);
  return rows.flatMap((r) => cols.map((c) => 1 / (r * c)));
}

/**
 * AveragePool is a depthwise conv with a constant kernel, so dX is that conv's input gradient. With
 * count_include_pad=0 and padding the divisor varies by window: dY is divided by it first and the
 * kernel holds ones.
 */
const averagePool: GradRule = (ctx, node, [dY]) => {
  if (!dY) return [];
  const geo = poolGeometry(ctx, node);
  const e = Emitter.for(ctx, node);
  const [kh, kw] = geo.kernel;
  const uniform = intAttr(node, 'count_include_pad', 0) === 1 || geo.pads.every((p) => p === 0);
  const scaled = uniform
    ? dY
    : e.op('Mul', [dY, e.constant(f32(outputSize(geo), reciprocalCounts(geo)), 'counts')]);
  const c = geo.group;
  // A uniform depthwise kernel is its own transposed flip, so it serves both formulations as is.
  const k = e.constant(
    f32([c, 1, kh, kw], new Array(c * kh * kw).fill(uniform ? 1 / (kh * kw) : 1)),
    'kernel',
  );
  return [
    flippedConvApplies(geo)
      ? inputGradByConv(e, scaled, k, geo)
      : inputGradByConvTranspose(e, scaled, k, geo),
  ];
};

/** Whether one input position can win two windows: some axis steps by less than its kernel, twice or more. */
function windowsOverlap(ctx: GradContext, node: Node): boolean {
  const kernel = intsAttr(node, 'kernel_shape') ?? [];
  const strides = intsAttr(node, 'strides') ?? kernel.map(() => 1);
  const out = spatialShape(ctx, node.outputs[0], node);
  return kernel.some((k, axis) => strides[axis] < k && out[axis] > 1);
}

/**
 * Routes each dY element to the input position that won its window, using the Indices output (flat
 * offsets into X, which the forward node is made to emit). Where windows overlap, ScatterElements adds,
 * so an element that wins several windows collects all their gradients; that reduction needs opset 16,
 * and disjoint windows (a global max, 2x2 stride 2) need none, so they work in older files too.
 */
const maxPool: GradRule = (ctx, node, [dY]) => {
  if (!dY) return [];
  if (intAttr(node, 'storage_order', 0) !== 0)
    throw new Error(`autodiff: ${where(node)} has storage_order=1; only row-major indices are supported`);
  const overlap = windowsOverlap(ctx, node);
  if (overlap && ctx.g.opset < 16)
    throw new Error(
      `autodiff: ${where(node)} has overlapping windows, whose gradient needs ScatterElements with reduction (opset 16), and the model is opset ${ctx.g.opset}; export it at opset 16 or later`,
    );
  if (!node.outputs[1]) node.outputs[1] = ctx.g.fresh(`${node.name}.indices`);
  const e = Emitter.for(ctx, node);
  const shape = e.op('Shape', [node.inputs[0]]);
  const flat = (v: string) => e.op('Reshape', [v, e.ints([-1])]);
  const zeros = flat(e.op('ConstantOfShape', [shape]));
  const summed = e.op('ScatterElements', [zeros, flat(node.outputs[1]), flat(dY)], {
    axis: attr.int(0),
    ...(overlap ? { reduction: attr.string('add') } : {}),
  });
  return [e.op('Reshape', [summed, shape])];
};

export const poolRules: RuleTable = {
  GlobalAveragePool: globalAveragePool,
  AveragePool: averagePool,
  MaxPool: maxPool,
};
