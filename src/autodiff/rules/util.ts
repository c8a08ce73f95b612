import { attr, type Attr, type Dim, type Graph, type Node } from '../../graph/ir.js';
import { f32, i64, type Tensor } from '../../graph/tensor.js';
import type { GradContext } from '../rule.js';

// Helpers shared by every rule family in this folder.

/** How errors name a node: its op and name, as in `Conv 'layer1.0.conv1'`. */
export function where(node: Node): string {
  return `${node.op} '${node.name}'`;
}

type AttrValue<K extends Attr['kind']> = Extract<Attr, { kind: K }>['value'];

/** A node's attribute of the given kind, undefined when absent; any other kind is an error. */
function attrOf<K extends Attr['kind']>(
  node: Node,
  name: string,
  kind: K,
  what: string,
): AttrValue<K> | undefined {
  const a = node.attrs[name];
  if (a && a.kind !== kind) throw new Error(`autodiff: ${where(node)} attribute ${name} is not ${what}`);
  return a?.value as AttrValue<K> | undefined;
}

export function intAttr(node: Node, name: string, fallback: number): number {
  return attrOf(node, name, 'int', 'an int') ?? fallback;
}

export function floatAttr(node: Node, name: string, fallback: number): number {
  return attrOf(node, name, 'float', 'a float') ?? fallback;
}

export function intsAttr(node: Node, name: string): number[] | undefined {
  return attrOf(node, name, 'ints', 'ints');
}

export function stringAttr(node: Node, name: string, fallback: string): string {
  return attrOf(node, name, 'string', 'a string') ?? fallback;
}

/** A constant integer operand of a node as numbers, or undefined when it is computed. */
export function constantInts(ctx: GradContext, name: string | undefined): number[] | undefined {
  const t = name ? ctx.constant(name) : undefined;
  return t && Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Refuses a node whose inputs after X (a normalisation's scale, bias or statistics) would need a gradient. */
export function refuseTrainableBeyondX(ctx: GradContext, node: Node): void {
  const trainable = node.inputs.slice(1).find((v) => v && ctx.needsGrad(v));
  if (trainable)
    throw new Error(
      `autodiff: ${where(node)} has a trainable '${trainable}'; only its input X may get a gradient`,
    );
}

/** Calls `grad` for each input that needs a gradient, so no rule emits nodes nobody reads. */
export function gradsFor(
  ctx: GradContext,
  node: Node,
  grad: (input: string, k: number) => string | undefined,
): (string | undefined)[] {
  return node.inputs.map((x, k) => (x && ctx.needsGrad(x) ? grad(x, k) : undefined));
}

export function int64s(ctx: GradContext, values: number[]): string {
  return ctx.g.constant(i64([values.length], values), 'grad.ints');
}

export function scalar(ctx: GradContext, value: number): string {
  return ctx.g.constant(f32([], [value]), 'grad.scalar');
}

/**
 * A shape tensor for forward value x. A constant where possible, with -1 for the one symbolic (batch)
 * dimension: Shape(x) would keep the activation x alive until the backward pass just to read its shape.
 */
export function shapeOf(ctx: GradContext, x: string): string {
  const dims = ctx.shape(x);
  if (dims.filter((d) => typeof d !== 'number').length > 1) return ctx.g.op('Shape', [x]);
  return int64s(
    ctx,
    dims.map((d) => (typeof d === 'number' ? d : -1)),
  );
}

export function reshapeLike(ctx: GradContext, grad: string, x: string): string {
  return ctx.g.op('Reshape', [grad, shapeOf(ctx, x)]);
}

/**
 * Sums a gradient of the broadcast shape `from` down to input x's shape (numpy broadcasting): over the
 * leading axes x lacks and over the axes where x has size 1.
 */
export function unbroadcast(ctx: GradContext, grad: string, from: Dim[], x: string): string {
  const to = ctx.shape(x);
  const lead = from.length - to.length;
  const axes = from.flatMap((d, i) => (i < lead || (to[i - lead] === 1 && d !== 1) ? [i] : []));
  if (axes.length === 0) return grad;
  // Dropping only leading axes needs no Reshape afterwards.
  const leadingOnly = axes.length === lead;
  const summed = ctx.g.op('ReduceSum', [grad, int64s(ctx, axes)], {
    keepdims: attr.int(leadingOnly ? 0 : 1),
  });
  return leadingOnly || lead === 0 ? summed : reshapeLike(ctx, summed, x);
}

const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
/** The spatial axes H and W of an NCHW value. */
export const AXES_HW = [2, 3];

/**
 * Emits backward nodes and constants named after their forward node, so ORT profiles attribute the time
 * to it; for rules that build longer chains (conv, pools).
 */
export class Emitter {
  constructor(
    readonly g: Graph,
    private readonly prefix: string,
  ) {}

  static for(ctx: GradContext, node: Node): Emitter {
    return new Emitter(ctx.g, `grad.${node.name}`);
  }

  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.g.op(type, inputs, attrs, this.g.fresh(`${this.prefix}.${type}`));
  }

  /** A new initializer, named after the forward node and what it holds. */
  constant(t: Tensor, what: string): string {
    return this.g.constant(t, `${this.prefix}.${what}`);
  }

  /** A 1-D int64 initializer, for the shape, axis and index operands of Reshape, Slice and friends. */
  ints(values: (number | bigint)[]): string {
    return this.constant(i64([values.length], values), 'ints');
  }

  transpose(x: string, perm: number[]): string {
    return this.op('Transpose', [x], { perm: attr.ints(perm) });
  }

  reshape(x: string, shape: number[]): string {
    return this.op('Reshape', [x, this.ints(shape)]);
  }

  /** Reverses H and W (axes 2 and 3). */
  flipHW(x: string): string {
    return this.op('Slice', [
      x,
      this.ints([-1, -1]),
      this.ints([INT64_MIN, INT64_MIN]),
      this.ints(AXES_HW),
      this.ints([-1, -1]),
    ]);
  }
}
