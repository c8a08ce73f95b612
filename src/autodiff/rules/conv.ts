import { attr, type Node } from '../../graph/ir.js';
import { allocData, type Tensor } from '../../graph/tensor.js';
import type { GradContext, GradRule, RuleTable } from '../rule.js';
import { AXES_HW, Emitter, INT64_MAX, intAttr, intsAttr, stringAttr, where } from './util.js';

type Pair = [number, number];

/** Spatial geometry of a 2-D conv or pool; pads in ONNX order [top, left, bottom, right]. */
export interface Geometry {
  kernel: Pair;
  strides: Pair;
  pads: [number, number, number, number];
  group: number;
  /** The input's spatial size [H, W]. */
  input: Pair;
}

/** A value's shape, which must be fully static (weights, kernels). */
function staticShape(ctx: GradContext, name: string, node: Node): number[] {
  const s = ctx.shape(name);
  if (!s.every((d): d is number => typeof d === 'number'))
    throw new Error(`autodiff: ${where(node)} needs a static shape for '${name}', got [${s}]`);
  return s;
}

/** [H, W] of an NCHW value; only the batch may be symbolic. */
export function spatialShape(ctx: GradContext, name: string, node: Node): Pair {
  const s = ctx.shape(name);
  const [h, w] = s.slice(2);
  if (s.length !== 4 || typeof h !== 'number' || typeof w !== 'number')
    throw new Error(
      `autodiff: ${where(node)} supports 2-D NCHW inputs with static H and W, got [${s}] for '${name}'`,
    );
  return [h, w];
}

/** The channel count of an NCHW value, which must be static. */
export function channels(ctx: GradContext, name: string, node: Node): number {
  const c = ctx.shape(name)[1];
  if (typeof c !== 'number')
    throw new Error(`autodiff: ${where(node)} needs a static channel count for '${name}'`);
  return c;
}

/** Reads strides, pads and the kernel, rejecting what the backward rules do not implement. */
export function geometry(ctx: GradContext, node: Node, kernel: number[], group: number): Geometry {
  const autoPad = stringAttr(node, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET')
    throw new Error(
      `autodiff: ${where(node)} has auto_pad=${autoPad}; only NOTSET (explicit pads) is supported`,
    );
  const dilations = intsAttr(node, 'dilations') ?? [1, 1];
  if (dilations.some((d) => d !== 1))
    throw new Error(`autodiff: ${where(node)} has dilations [${dilations}]; only dilation 1 is supported`);
  if (kernel.length !== 2) throw new Error(`autodiff: ${where(node)} is not 2-D (kernel [${kernel}])`);
  const [s0, s1] = intsAttr(node, 'strides') ?? [1, 1];
  const [p0, p1, p2, p3] = intsAttr(node, 'pads') ?? [0, 0, 0, 0];
  return {
    kernel: [kernel[0], kernel[1]],
    strides: [s0, s1],
    pads: [p0, p1, p2, p3],
    group,
    input: spatialShape(ctx, node.inputs[0], node),
  };
}

/** Positions along spatial axis i the last window leaves uncovered: (in + pads - k) mod stride. */
function remainder(geo: Geometry, i: number): number {
  return (geo.input[i] + geo.pads[i] + geo.pads[i + 2] - geo.kernel[i]) % geo.strides[i];
}

export function outputSize(geo: Geometry): Pair {
  const size = (i: number) =>
    Math.floor((geo.input[i] + geo.pads[i] + geo.pads[i + 2] - geo.kernel[i]) / geo.strides[i]) + 1;
  return [size(0), size(1)];
}

/** Pads k-1-p: a stride-1 conv with the flipped kernel and these pads is the transpose of the forward conv. */
function flippedPads(geo: Geometry): number[] {
  return geo.pads.map((p, i) => geo.kernel[i % 2] - 1 - p);
}

/** Whether the stride-1 "Conv with flipped kernel" formulation applies (ORT runs it faster than ConvTranspose). */
export function flippedConvApplies(geo: Geometry): boolean {
  return geo.strides.every((s) => s === 1) && flippedPads(geo).every((p) => p >= 0);
}

/** dX as Conv(dY, wT) where wT is the kernel transposed per group and flipped; needs `flippedConvApplies`. */
export function inputGradByConv(e: Emitter, dY: string, wT: string, geo: Geometry): string {
  return e.op('Conv', [dY, wT], {
    kernel_shape: attr.ints(geo.kernel),
    pads: attr.ints(flippedPads(geo)),
    group: attr.int(geo.group),
  });
}

/** dX as ConvTranspose(dY, w), with the output_padding that restores the input's exact size. */
export function inputGradByConvTranspose(e: Emitter, dY: string, w: string, geo: Geometry): string {
  return e.op('ConvTranspose', [dY, w], {
    kernel_shape: attr.ints(geo.kernel),
    strides: attr.ints(geo.strides),
    pads: attr.ints(geo.pads),
    group: attr.int(geo.group),
    output_padding: attr.ints([remainder(geo, 0), remainder(geo, 1)]),
  });
}

/** [Cout, Cin/g, kh, kw] -> [Cin, Cout/g, kh, kw] with in/out swapped within each group and H, W reversed. */
export function transposeFlip(w: Tensor, group: number): Tensor {
  const [cout, cinG, kh, kw] = w.shape;
  const coutG = cout / group;
  const data = allocData(w.dtype, w.data.length);
  const src = w.data as ArrayLike<number | bigint>;
  const dst = data as { [i: number]: number | bigint };
  for (let gi = 0; gi < group; gi++)
    for (let co = 0; co < coutG; co++)
      for (let ci = 0; ci < cinG; ci++)
        for (let a = 0; a < kh; a++)
          for (let b = 0; b < kw; b++)
            dst[(((gi * cinG + ci) * coutG + co) * kh + a) * kw + b] =
              src[(((gi * coutG + co) * cinG + ci) * kh + kh - 1 - a) * kw + kw - 1 - b];
  return { dtype: w.dtype, shape: [cinG * group, coutG, kh, kw], data };
}

/** `transposeFlip` as graph ops, for a kernel that changes every step (a LoRA factor). */
function transposeFlipOps(e: Emitter, w: string, shape: number[], group: number): string {
  const [cout, cinG, kh, kw] = shape;
  const coutG = cout / group;
  if (group === 1) return e.flipHW(e.transpose(w, [1, 0, 2, 3]));
  const swapped = e.transpose(e.reshape(w, [group, coutG, cinG, kh, kw]), [0, 2, 1, 3, 4]);
  return e.flipHW(e.reshape(swapped, [group * cinG, coutG, kh, kw]));
}

/**
 * [N, g*c, h, w] -> [c, g*N, h, w]: the batch becomes the channel axis, grouped the way a Conv with
 * `group` g splits its input channels, so a weight-gradient conv keeps the forward conv's groups.
 */
function groupsToBatch(e: Emitter, x: string, group: number, c: number, [h, w]: Pair): string {
  if (group === 1) return e.transpose(x, [1, 0, 2, 3]);
  const t = e.transpose(e.reshape(x, [0, group, c, h, w]), [2, 1, 0, 3, 4]);
  return e.reshape(t, [c, -1, h, w]);
}

function convInputGrad(ctx: GradContext, e: Emitter, node: Node, dY: string, geo: Geometry): string {
  const w = node.inputs[1];
  if (!flippedConvApplies(geo)) return inputGradByConvTranspose(e, dY, w, geo);
  const frozen = ctx.constant(w);
  const wT = frozen
    ? e.constant(transposeFlip(frozen, geo.group), 'wT')
    : transposeFlipOps(e, w, staticShape(ctx, w, node), geo.group);
  return inputGradByConv(e, dY, wT, geo);
}

/** 1x1, no padding: per group, dW = sum over the batch of dY [Cout/g, HW] x X^T [HW, Cin/g]. */
function weightGrad1x1(e: Emitter, x: string, dY: string, geo: Geometry, wShape: number[]): string {
  const [cout, cinG] = wShape;
  const g = geo.group;
  const strided = geo.strides.some((s) => s !== 1);
  const xs = strided
    ? e.op('Slice', [x, e.ints([0, 0]), e.ints([INT64_MAX, INT64_MAX]), e.ints(AXES_HW), e.ints(geo.strides)])
    : x;
  const xT = e.transpose(e.reshape(xs, [0, g, cinG, -1]), [0, 1, 3, 2]);
  const perImage = e.op('MatMul', [e.reshape(dY, [0, g, cout / g, -1]), xT]);
  const sum = e.op('ReduceSum', [perImage, e.ints([0])], { keepdims: attr.int(0) });
  return e.reshape(sum, wShape);
}

/**
 * Stride 1: one Conv with the batch as the channel axis, input dY^T [Cout/g, g*N, Ho, Wo] and kernel
 * X^T [Cin, N, H, W]. With pads k-1-p it yields dW with H and W reversed (and groups on the wrong axis).
 */
function weightGradFlipped(e: Emitter, x: string, dY: string, geo: Geometry, wShape: number[]): string {
  const [cout, cinG, kh, kw] = wShape;
  const g = geo.group;
  const dYt = groupsToBatch(e, dY, g, cout / g, outputSize(geo));
  const z = e.op('Conv', [dYt, e.transpose(x, [1, 0, 2, 3])], {
    pads: attr.ints(flippedPads(geo)),
    group: attr.int(g),
  });
  if (g === 1) return e.flipHW(z);
  const regrouped = e.transpose(e.reshape(z, [cout / g, g, cinG, kh, kw]), [1, 0, 2, 3, 4]);
  return e.flipHW(e.reshape(regrouped, wShape));
}

/**
 * Any stride: Conv of input X^T [Cin/g, g*N, H, W] with kernel dY^T [Cout, N, Ho, Wo] dilated by the
 * stride gives dW^T. The end pads shrink by the rows the forward never reached, so the output is exactly
 * k; when a pad is too small for that, the extra rows are sliced off.
 */
function weightGradDilated(e: Emitter, x: string, dY: string, geo: Geometry, wShape: number[]): string {
  const [, cinG, kh, kw] = wShape;
  const rem = [remainder(geo, 0), remainder(geo, 1)];
  const endPads = rem.map((r, i) => Math.max(0, geo.pads[i + 2] - r));
  const z = e.op('Conv', [groupsToBatch(e, x, geo.group, cinG, geo.input), e.transpose(dY, [1, 0, 2, 3])], {
    pads: attr.ints([geo.pads[0], geo.pads[1], ...endPads]),
    dilations: attr.ints(geo.strides),
    group: attr.int(geo.group),
  });
  const oversized = rem.some((r, i) => r > geo.pads[i + 2]);
  const exact = oversized ? e.op('Slice', [z, e.ints([0, 0]), e.ints([kh, kw]), e.ints(AXES_HW)]) : z;
  return e.transpose(exact, [1, 0, 2, 3]);
}

function convWeightGrad(ctx: GradContext, e: Emitter, node: Node, dY: string, geo: Geometry): string {
  const [x, w] = node.inputs;
  const wShape = staticShape(ctx, w, node);
  if (geo.kernel.every((k) => k === 1) && geo.pads.every((p) => p === 0))
    return weightGrad1x1(e, x, dY, geo, wShape);
  if (flippedConvApplies(geo)) return weightGradFlipped(e, x, dY, geo, wShape);
  return weightGradDilated(e, x, dY, geo, wShape);
}

const conv: GradRule = (ctx, node, [dY]) => {
  if (!dY) return [];
  const [x, w, b] = node.inputs;
  const geo = geometry(ctx, node, staticShape(ctx, w, node).slice(2), intAttr(node, 'group', 1));
  const e = Emitter.for(ctx, node);
  return [
    ctx.needsGrad(x) ? convInputGrad(ctx, e, node, dY, geo) : undefined,
    ctx.needsGrad(w) ? convWeightGrad(ctx, e, node, dY, geo) : undefined,
    b && ctx.needsGrad(b) ? e.op('ReduceSum', [dY, e.ints([0, 2, 3])], { keepdims: attr.int(0) }) : undefined,
  ];
};

export const convRules: RuleTable = { Conv: conv };
