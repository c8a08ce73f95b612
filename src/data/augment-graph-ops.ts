import { attr, type Graph } from '../graph/ir.js';
import { onnxDataType } from '../graph/onnx-dtypes.js';
import { type DType, f32, i64 } from '../graph/tensor.js';

/*
 * The pieces of TrivialAugment's graph (trivial-augment-graph.ts) that follow torchvision's sampling and
 * blending, each as torchvision computes it (augment-kernel.as.ts does the same for the seed recipe's
 * transforms, in WebAssembly).
 */

/** A float32 scalar constant of the graph. */
export type Konst = (v: number) => string;

export function cast(g: Graph, x: string, to: DType): string {
  return g.op('Cast', [x], { to: attr.int(onnxDataType(to)) });
}

/**
 * An inverse affine map (torchvision's _gen_affine_grid) then nearest grid_sample(align_corners=False,
 * zeros) on the HWC bytes [N,H,W,3]. `params` is [N,6,1,1] (a, b, c, d, e, f): the inverse matrix
 * divided by the half sizes, so the source of the output pixel centre (x, y), relative to the image
 * centre, is x·a + y·b + c across and x·d + y·e + f down, in [−1, 1]. That is unnormalised as
 * grid_sample does and rounded half to even (ONNX Round): the source pixel torchvision's nearest
 * grid_sample picks. One GatherND per image then moves whole RGB pixels, and those from outside the
 * image become 0.
 */
export function nearestAffine(
  g: Graph,
  pixels: string,
  [h, w]: [number, number],
  k: Konst,
  params: string,
): string {
  const centred = (n: number, axis: 2 | 3) => {
    const v = Float32Array.from({ length: n }, (_, i) => i - n * 0.5 + 0.5);
    return g.constant(f32(axis === 3 ? [1, 1, 1, n] : [1, 1, n, 1], v), axis === 3 ? 'x' : 'y');
  };
  const [cx, cy] = [centred(w, 3), centred(h, 2)];
  const [ax, bx, tx, ay, by, ty] = g.add('Split', [params], { outputs: 6, attrs: { axis: attr.int(1) } });
  // x·a is [N,1,1,W] and y·b [N,1,H,1]: one broadcast Add makes the plane.
  const source = (a: string, b: string, t: string, n: number) => {
    const gridCoord = g.op('Add', [g.op('Add', [g.op('Mul', [cx, a]), g.op('Mul', [cy, b])]), t]);
    const unnormalised = g.op('Sub', [g.op('Mul', [g.op('Add', [gridCoord, k(1)]), k(n / 2)]), k(0.5)]);
    return g.op('Round', [unnormalised]);
  };
  const sy = source(ay, by, ty, h);
  const sx = source(ax, bx, tx, w);
  const inside = (s: string, n: number) =>
    g.op('And', [g.op('GreaterOrEqual', [s, k(0)]), g.op('Less', [s, k(n)])]);
  const valid = g.op('And', [inside(sx, w), inside(sy, h)]);
  // Row-major pixel index (exact: below 2^24); sources outside the image read an appended black pixel.
  const at = g.op('Where', [valid, g.op('Add', [g.op('Mul', [sy, k(w)]), sx]), k(h * w)]);
  // TrivialAugment's slice of the batch may be empty, where Reshape cannot infer a −1.
  const all = h * w;
  const index = g.op('Reshape', [cast(g, at, 'int64'), g.constant(i64([3], [0, all, 1]), 'shape')]);
  const rows = g.op('Reshape', [pixels, g.constant(i64([3], [0, all, 3]), 'shape')]);
  const padded = g.op('Pad', [rows, g.constant(i64([6], [0, 0, 0, 0, 1, 0]), 'pads')]);
  const moved = g.op('GatherND', [padded, index], { batch_dims: attr.int(1) });
  return g.op('Reshape', [moved, g.constant(i64([4], [0, h, w, 3]), 'shape')]);
}

/** An image batch as its R, G and B planes: [N,1,H,W], or [N,H,W,1] split from HWC. */
export type Planes = [string, string, string];

const LUMA = [0.2989, 0.587, 0.114];

/** rgb_to_grayscale truncated to uint8: 0.2989 R + 0.587 G + 0.114 B in float32, summed left to right. */
function grey(g: Graph, [r, gr, b]: Planes, k: Konst): string {
  const [wr, wg, wb] = LUMA.map((v) => k(v));
  const sum = g.op('Add', [g.op('Add', [g.op('Mul', [r, wr]), g.op('Mul', [gr, wg])]), g.op('Mul', [b, wb])]);
  return g.op('Floor', [sum]);
}

/** _blend's last step: ratio·c + other (other being (1 − ratio)·img2, in float32), clamped to [0, 255], truncated. */
export function mixOp(g: Graph, c: string, ratio: string, other: string, k: Konst): string {
  const mixed = g.op('Add', [g.op('Mul', [c, ratio]), other]);
  return g.op('Floor', [g.op('Clip', [mixed, k(0), k(255)])]);
}

/**
 * _blend: ratio·img + (1 − ratio)·other clamped to [0, 255] and truncated, with other = contrast·mean
 * (grey) + saturation·grey: 0 for brightness, the grey image's mean for contrast, the grey image for
 * saturation (the weights are 0 or 1, so the pick is exact).
 */
export function blendOp(
  g: Graph,
  x: Planes,
  [ratio, rest, contrast, saturation]: string[],
  pixels: number,
  k: Konst,
): Planes {
  const gray = grey(g, x, k);
  const mean = g.op('Div', [g.op('ReduceSum', [gray, g.constant(i64([3], [1, 2, 3]), 'axes')]), k(pixels)]);
  const other = g.op('Mul', [
    g.op('Add', [g.op('Mul', [gray, saturation]), g.op('Mul', [mean, contrast])]),
    rest,
  ]);
  return x.map((c) => mixOp(g, c, ratio, other, k)) as Planes;
}
