import { attr, type Dim } from '../../graph/ir.js';
import type { GradRule, RuleTable } from '../rule.js';
import {
  constantInts,
  Emitter,
  gradsFor,
  intAttr,
  int64s,
  intsAttr,
  reshapeLike,
  stringAttr,
  where,
} from './util.js';

/**
 * Flatten, Reshape, Squeeze and Unsqueeze only relabel the shape: dX is dY in X's shape. Their integer
 * shape or axes input has no gradient, even when computed from X.
 */
const reshape: GradRule = (ctx, node, [dY]) =>
  gradsFor(ctx, node, (x, k) => (k === 0 ? reshapeLike(ctx, dY!, x) : undefined));

const transpose: GradRule = (ctx, node, [dY]) => {
  const rank = ctx.shape(node.inputs[0]).length;
  const perm = intsAttr(node, 'perm') ?? [...Array(rank).keys()].reverse();
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return [ctx.g.op('Transpose', [dY!], { perm: attr.ints(inverse) })];
};

/** Splits dY back into the inputs' static extents along the axis. */
const concat: GradRule = (ctx, node, [dY]) => {
  const rank = ctx.shape(node.outputs[0]).length;
  const axis = (intAttr(node, 'axis', 0) + rank) % rank;
  const sizes = node.inputs.map((x) => ctx.shape(x)[axis]);
  if (sizes.some((s) => typeof s !== 'number'))
    throw new Error(`autodiff: ${where(node)} joins along the symbolic axis ${axis}, which is not supported`);
  const parts = ctx.g.add('Split', [dY!, int64s(ctx, sizes as number[])], {
    attrs: { axis: attr.int(axis) },
    outputs: sizes.length,
  });
  return gradsFor(ctx, node, (_, k) => parts[k]);
};

/** An index into an axis of `size` as Slice clamps it (a negative one counts from the end). */
function clampIndex(i: number, size: number): number {
  return Math.min(Math.max(i < 0 ? i + size : i, 0), size);
}

/**
 * The axis a one-axis Slice with computed axes cut, as the only one whose size changed (torch 1.13
 * computes even the axis of torch.chunk); none changed means the slice kept everything.
 */
function onlyChangedAxis(x: readonly Dim[], y: readonly Dim[], count: number): number[] | undefined {
  const changed = x.flatMap((d, axis) => (d !== y[axis] ? [axis] : []));
  if (count !== 1 || changed.length > 1) return undefined;
  return changed;
}

/**
 * A unit-step Slice puts dY back where its window was and zeros around it: Pad by the window's offset
 * and what is left after it, on each sliced axis. The window's extent is Y's static size; its offset
 * comes from the constant starts, else from the constant ends, else it is computed in the graph as Slice
 * clamps it: torch 1.13 exports ShuffleNetV2's channel split with both computed from the input's shape.
 */
const slice: GradRule = (ctx, node, [dY]) => {
  const [x, starts, ends, axesIn, stepsIn] = node.inputs;
  if (!starts)
    throw new Error(
      `autodiff: ${where(node)} has its bounds as attributes (opset 1-9); export the model at opset 10 or later`,
    );
  const xShape = ctx.shape(x);
  const yShape = ctx.shape(node.outputs[0]);
  const [first, last] = [constantInts(ctx, starts), constantInts(ctx, ends)];
  const count = Number(ctx.shape(starts)[0]);
  const axes = axesIn
    ? (constantInts(ctx, axesIn) ?? onlyChangedAxis(xShape, yShape, count))
    : [...Array(count).keys()];
  const steps = stepsIn ? constantInts(ctx, stepsIn) : axes?.map(() => 1);
  if (!axes || !steps)
    throw new Error(`autodiff: ${where(node)} has computed axes or steps; only constants are supported`);
  if (steps.some((s) => s !== 1))
    throw new Error(`autodiff: ${where(node)} has steps [${steps}]; only steps of 1 are supported`);
  const e = Emitter.for(ctx, node);
  const before: (number | string)[] = xShape.map(() => 0);
  const after: (number | string)[] = xShape.map(() => 0);
  axes.forEach((a, i) => {
    const axis = (a + xShape.length) % xShape.length;
    const [size, kept] = [xShape[axis], yShape[axis]];
    if (typeof size !== 'number' || typeof kept !== 'number')
      throw new Error(`autodiff: ${where(node)} slices the symbolic axis ${axis}, which is not supported`);
    if (first || last) {
      const offset = first ? clampIndex(first[i], size) : clampIndex(last![i], size) - kept;
      [before[axis], after[axis]] = [offset, size - offset - kept];
      return;
    }
    const start = e.op('Slice', [starts, e.ints([i]), e.ints([i + 1])]);
    const wrapped = e.op('Where', [
      e.op('Less', [start, e.ints([0])]),
      e.op('Add', [start, e.ints([size])]),
      start,
    ]);
    before[axis] = e.op('Min', [e.op('Max', [wrapped, e.ints([0])]), e.ints([size])]);
    after[axis] = e.op('Sub', [e.ints([size - kept]), before[axis]]);
  });
  const pads = [...before, ...after];
  const padsValue = pads.every((p) => typeof p === 'number')
    ? e.ints(pads)
    : e.op(
        'Concat',
        pads.map((p) => (typeof p === 'number' ? e.ints([p]) : p)),
        { axis: attr.int(0) },
      );
  return [e.op('Pad', [dY!, padsValue])];
};

/**
 * Constant-mode Pad (DenseNet's transitions pad before pooling): dX is dY with the padding taken off.
 * Positive pads are sliced away; negative ones cropped X, so dX gets zeros back there:
 * dX = Pad(Slice(dY, max(begin, 0), len(dY) - max(end, 0)), max(-pads, 0)). Computed pads (torch 1.13
 * exports DenseNet's from the input's shape) take the same ops in the graph.
 */
const pad: GradRule = (ctx, node, [dY]) => {
  const [x, padsIn, , axesIn] = node.inputs;
  if (stringAttr(node, 'mode', 'constant') !== 'constant')
    throw new Error(
      `autodiff: ${where(node)} pads in mode '${stringAttr(node, 'mode', '')}'; only 'constant' is supported`,
    );
  if (axesIn)
    throw new Error(`autodiff: ${where(node)} names its axes; only pads over every axis are supported`);
  if (!padsIn)
    throw new Error(
      `autodiff: ${where(node)} has its pads as an attribute (opset 1-10); export the model at opset 11 or later`,
    );
  const rank = ctx.shape(x).length;
  const e = Emitter.for(ctx, node);
  const zero = e.ints([0]);
  const part = (from: number) => e.op('Slice', [padsIn, e.ints([from]), e.ints([from + rank])]);
  const kept = e.op('Slice', [
    dY!,
    e.op('Max', [part(0), zero]),
    e.op('Sub', [e.op('Shape', [dY!]), e.op('Max', [part(rank), zero])]),
    e.ints([...Array(rank).keys()]),
  ]);
  return [e.op('Pad', [kept, e.op('Max', [e.op('Neg', [padsIn]), zero])])];
};

export const shapeRules: RuleTable = {
  Flatten: reshape,
  Reshape: reshape,
  Squeeze: reshape,
  Unsqueeze: reshape,
  Transpose: transpose,
  Concat: concat,
  Slice: slice,
  Pad: pad,
};
