import { stopGradient } from '../autodiff/stop-gradient.js';
import { attr, type Graph } from '../graph/ir.js';
import { f32, i64, type Tensor } from '../graph/tensor.js';

/*
 * DoRA (PEFT's `use_dora`, DoraConv2dLayer) on a conv whose BatchNorm was folded into it.
 *
 * PEFT adapts the conv V before its BatchNorm y = γ'·z + β' (γ' = γ/√(var+ε)). With the magnitude m and
 * n = ‖V + s·B·A‖ over each output channel's (in, kh, kw), detached:
 *   z = conv(x, V) + (m/n − 1)·conv(x, V) + (m/n)·s·B(A(x)) = (m/n)·(conv(x, V) + s·B(A(x))).
 * The folded conv holds W = γ'·V and the bias β', and our branch's B is already scaled by γ'·s
 * (`branchScale`), so after the BatchNorm
 *   y = (m/n)·(conv(x, W) + γ'·s·B(A(x))) + β',   n = ‖V + s·B·A‖ = ‖W + γ'·s·B·A‖ / |γ'|.
 * The graph computes that: the base conv without its bias, plus the branch, times m/n, plus the bias (one
 * conv of x by W, where PEFT's formula has two; the same sum, as PEFT's own path when dropout is 0).
 * The merged weight is (m/n)·(W + γ'·s·B·A) with the bias unchanged: PEFT's merge (m/n)·(V + s·B·A)
 * through the BatchNorm. Without a folded BatchNorm (an ONNX backbone), γ' is 1.
 *
 * A channel whose pretrained weights are all zero (MobileNetV2's expanded_conv_11/expand has one) has
 * m = n = 0 at the start, and PEFT's m/n is NaN there (peft#2049). We divide by max(n, NORM_FLOOR): such a
 * channel's m/n is 0 and its gradients are 0, so it stays the backbone's dead channel.
 */

/** The least n divided by, far below any live channel's norm (MobileNetV2's smallest is 0.018). */
const NORM_FLOOR = 1e-12;

/** m/n for one output channel, n floored as in the graph. */
export function doraScale(m: number, n: number): number {
  return m / Math.max(n, NORM_FLOOR);
}

/** PEFT's key and shape for the magnitude: `<module>.lora_magnitude_vector`, [1, out, 1, 1]. */
export function magnitudeName(node: string): string {
  return `${node}.lora_magnitude_vector`;
}

export function magnitudeShape(cout: number): [number, number, number, number] {
  return [1, cout, 1, 1];
}

/** |γ'| per output channel (1 without a BatchNorm); a zero γ' leaves V, and so PEFT's norm, undefined. */
function bnMagnitudes(node: string, cout: number, bnScale?: Float32Array): Float32Array {
  const abs = new Float32Array(cout).fill(1);
  if (!bnScale) return abs;
  for (let o = 0; o < cout; o++) {
    if (bnScale[o] === 0)
      throw new Error(
        `lora: --dora: target '${node}' has a BatchNorm scale of 0 in output channel ${o}, so its DoRA weight norm is undefined; leave it out of --targets`,
      );
    abs[o] = Math.abs(bnScale[o]);
  }
  return abs;
}

/**
 * n = ‖V + s·B·A‖ per output channel in float64, from the folded weight W and its folded update
 * `delta` = γ'·s·B·A (none: the magnitude's init ‖V‖, as PEFT's with B = 0).
 */
export function doraNorms(
  node: string,
  w: Tensor<'float32'>,
  delta?: Float64Array,
  bnScale?: Float32Array,
): Float64Array {
  const cout = w.shape[0];
  const cols = w.data.length / cout;
  const abs = bnMagnitudes(node, cout, bnScale);
  const n = new Float64Array(cout);
  for (let o = 0; o < cout; o++) {
    let sum = 0;
    for (let j = o * cols; j < (o + 1) * cols; j++) sum += (w.data[j] + (delta ? delta[j] : 0)) ** 2;
    n[o] = Math.sqrt(sum) / abs[o];
  }
  return n;
}

/**
 * Appends the detached factor m/n as [1, out, 1, 1], with n = ‖W + scaledB·A‖ / |γ'| from A, the scaled B
 * (γ'·s·B) and the folded weight W, floored, behind a stop-gradient as PEFT detaches it.
 */
export function appendDoraFactor(
  g: Graph,
  node: string,
  w: Tensor<'float32'>,
  a: string,
  scaledB: string,
  magnitude: string,
  bnScale?: Float32Array,
): string {
  const [cout] = w.shape;
  const cols = w.data.length / cout;
  const [r] = g.inputs.find((i) => i.name === a)!.shape as number[];
  const name = `${node}.lora_magnitude`;
  const flat = (x: string, rows: number, what: string) =>
    g.op('Reshape', [x, g.constant(i64([2], [rows, -1]), `${name}.${what}.shape`)], {}, `${name}.${what}`);
  const update = g.op('MatMul', [flat(scaledB, cout, 'B'), flat(a, r, 'A')], {}, `${name}.update`);
  const weight = g.constant(f32([cout, cols], w.data), `${name}.weight`);
  const adapted = g.op('Add', [weight, update], {}, `${name}.adapted`);
  // ReduceSum with its axes as an input, as every opset from 13 on has it (ReduceSumSquare's moved in 18).
  const squares = g.op(
    'ReduceSum',
    [g.op('Mul', [adapted, adapted], {}, `${name}.square`), g.constant(i64([1], [1]), `${name}.axes`)],
    { keepdims: attr.int(1) },
    `${name}.squares`,
  );
  const abs = g.constant(f32([cout, 1], bnMagnitudes(node, cout, bnScale)), `${name}.bn_abs`);
  const n = g.op('Div', [g.op('Sqrt', [squares], {}, `${name}.sqrt`), abs], {}, `${name}.norm`);
  const floored = g.op(
    'Max',
    [n, g.constant(f32([1], [NORM_FLOOR]), `${name}.floor`)],
    {},
    `${name}.floored`,
  );
  const inverse = g.op('Reciprocal', [floored], {}, `${name}.inverse`);
  const shape = g.constant(i64([4], magnitudeShape(cout)), `${name}.inverse.shape`);
  const detached = stopGradient(g, g.op('Reshape', [inverse, shape], {}, `${name}.inverse.nchw`), name);
  return g.op('Mul', [magnitude, detached], {}, `${name}.factor`);
}
