import assert from 'node:assert/strict';
import { appendBackward } from '../../src/autodiff/backward.js';
import { Graph } from '../../src/graph/ir.js';
import { f32, type Tensor } from '../../src/graph/tensor.js';
import { Rng } from '../../src/random/rng.js';
import { probeShapes } from '../../src/runtime/probe-shapes.js';
import { Session } from '../../src/runtime/session.js';

export interface GradCheckOptions {
  /** Float32 graph inputs with concrete shapes. */
  inputs: Record<string, Tensor>;
  /** Which inputs to check gradients for (default: all). */
  wrt?: string[];
  /** Central-difference step. */
  eps?: number;
  /** Bound on max|numeric - analytic| / max|analytic| over all checked elements. */
  tol?: number;
  /** Check at most this many elements of each input, chosen at random. */
  maxElements?: number;
  seed?: number;
  /** The graph's ONNX opset (default: the IR's). */
  opset?: number;
}

/**
 * Finite-difference check of the autodiff rules used by `build`: the loss is sum(out * R) for a fixed
 * random R, the analytic gradients come from `appendBackward` run in ONNX Runtime, and the numeric ones
 * from central differences of the same forward graph. Returns the worst relative error per input.
 */
export async function gradCheck(
  build: (g: Graph) => string,
  opts: GradCheckOptions,
): Promise<Record<string, number>> {
  const rng = new Rng(opts.seed ?? 1);
  const eps = opts.eps ?? 1e-2;
  const tol = opts.tol ?? 2e-3;
  const wrt = opts.wrt ?? Object.keys(opts.inputs);
  const g = new Graph();
  if (opts.opset) g.opset = opts.opset;
  for (const [name, t] of Object.entries(opts.inputs))
    g.inputs.push({ name, dtype: 'float32', shape: [...t.shape] });
  const out = build(g);
  g.outputs = [{ name: out, dtype: 'float32', shape: [] }];
  const outShape = (await probeShapes(g)).get(out)!.map(Number);
  const r = g.constant(
    f32(
      outShape,
      rng.uniformArray(
        outShape.reduce((a, b) => a * b, 1),
        -1,
        1,
      ),
    ),
    'R',
  );
  const loss = g.op('ReduceSum', [g.op('Mul', [out, r])], { keepdims: { kind: 'int', value: 0 } }, 'loss');
  g.outputs = [{ name: loss, dtype: 'float32', shape: [] }];
  const forward = await Session.create(g.clone(), { optimization: 'disabled' });

  const train = g.clone();
  const grads = appendBackward(train, { loss, wrt, shapes: await probeShapes(g) });
  train.outputs.push(
    ...wrt.map((w) => ({ name: grads.get(w)!, dtype: 'float32' as const, shape: [...opts.inputs[w].shape] })),
  );
  const analytic = await (await Session.create(train, { optimization: 'disabled' })).run(opts.inputs);

  const worst: Record<string, number> = {};
  for (const w of wrt) {
    const x = opts.inputs[w];
    const a = analytic[grads.get(w)!].data as Float32Array;
    assert.deepEqual(analytic[grads.get(w)!].shape, x.shape, `gradient of ${w} has the input's shape`);
    const scale = Math.max(...a.map(Math.abs), 1e-6);
    const n = x.data.length;
    const picks =
      n <= (opts.maxElements ?? 64)
        ? [...Array(n).keys()]
        : rng.shuffle([...Array(n).keys()]).slice(0, opts.maxElements ?? 64);
    let err = 0;
    for (const i of picks) {
      const at = async (delta: number) => {
        const data = Float32Array.from(x.data as Float32Array);
        data[i] += delta;
        const res = await forward.run({ ...opts.inputs, [w]: { ...x, data } });
        return (res[loss].data as Float32Array)[0];
      };
      const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      err = Math.max(err, Math.abs(numeric - a[i]) / scale);
    }
    worst[w] = err;
    assert.ok(
      err <= tol,
      `gradient of ${w}: max |numeric - analytic| / max|analytic| = ${err.toExponential(2)} > ${tol}`,
    );
  }
  return worst;
}

/** Uniform random float32 input of a shape, for gradient checks. */
export function randomInput(shape: number[], seed: number, lo = -1, hi = 1): Tensor<'float32'> {
  return f32(
    shape,
    new Rng(seed).uniformArray(
      shape.reduce((a, b) => a * b, 1),
      lo,
      hi,
    ),
  );
}
