import { attr } from '../../graph/ir.js';
import type { GradContext, GradRule, RuleTable } from '../rule.js';
import { floatAttr, gradsFor, intAttr, scalar, unbroadcast, where } from './util.js';

/**
 * Y = alpha·A'·B' + beta·C with A' = transA ? Aᵀ : A and B' likewise. dA' = alpha·dY·B'ᵀ and
 * dB' = alpha·A'ᵀ·dY; each is emitted as one Gemm whose trans flags absorb every transpose.
 */
const gemm: GradRule = (ctx, node, [dY]) => {
  const [a, b] = node.inputs;
  const alpha = floatAttr(node, 'alpha', 1);
  const beta = floatAttr(node, 'beta', 1);
  const transA = intAttr(node, 'transA', 0);
  const transB = intAttr(node, 'transB', 0);
  const product = (x: string, y: string, tx: number, ty: number) =>
    ctx.g.op('Gemm', [x, y], { alpha: attr.float(alpha), transA: attr.int(tx), transB: attr.int(ty) });
  return gradsFor(ctx, node, (x, k) => {
    if (k === 0) return transA ? product(b, dY!, transB, 1) : product(dY!, b, 0, 1 - transB);
    if (k === 1) return transB ? product(dY!, a, 1, transA) : product(a, dY!, 1 - transA, 0);
    const dC = unbroadcast(ctx, dY!, ctx.shape(node.outputs[0]), x);
    return beta === 1 ? dC : ctx.g.op('Mul', [dC, scalar(ctx, beta)]);
  });
};

/** Swaps the last two axes. */
function transposeLast(ctx: GradContext, x: string): string {
  const rank = ctx.shape(x).length;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return ctx.g.op('Transpose', [x], { perm: attr.ints(perm) });
}

/**
 * dA = dY·Bᵀ and dB = Aᵀ·dY over the broadcast batch, then summed over the batch axes each input was
 * broadcast along. Plain 2-D products use Gemm's trans flags instead of a Transpose.
 */
const matmul: GradRule = (ctx, node, [dY]) => {
  const [a, b] = node.inputs;
  const ranks = [a, b].map((x) => ctx.shape(x).length);
  if (Math.min(...ranks) < 2)
    throw new Error(`autodiff: ${where(node)} has a 1-D operand, which is not supported`);
  const plain = ranks[0] === 2 && ranks[1] === 2;
  const batch = ctx.shape(node.outputs[0]).slice(0, -2);
  return gradsFor(ctx, node, (x, k) => {
    if (plain)
      return k === 0
        ? ctx.g.op('Gemm', [dY!, b], { transB: attr.int(1) })
        : ctx.g.op('Gemm', [a, dY!], { transA: attr.int(1) });
    const full =
      k === 0
        ? ctx.g.op('MatMul', [dY!, transposeLast(ctx, b)])
        : ctx.g.op('MatMul', [transposeLast(ctx, a), dY!]);
    return unbroadcast(ctx, full, [...batch, ...ctx.shape(x).slice(-2)], x);
  });
};

export const linearRules: RuleTable = { Gemm: gemm, MatMul: matmul };
