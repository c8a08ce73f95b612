import { attr, Graph } from '../graph/ir.js';
import { f32, i64, tensor, type Tensor } from '../graph/tensor.js';
import { blendOp, cast, type Konst, mixOp, nearestAffine, type Planes } from './augment-graph-ops.js';
import { type TrivialDraw, type TrivialOp, TRIVIAL_OPS, trivialMagnitude } from './trivial-augment.js';

/*
 * TrivialAugmentWide on the HWC bytes of a batch, one op per image as torchvision's _apply_op computes
 * it on uint8 tensors (NEAREST, fill 0). The batch goes through sorted by the op's kind, each kind runs
 * once on its slice (empty slices run on nothing), and the slices are put back in order: each image
 * pays for its own op only. Per-image parameters come in one [N,6,1,1] tensor, in that sorted order.
 */

/** The graph's inputs and output. */
export const TRIVIAL_IO = {
  /** uint8 [N,H,W,3]: the images (HWC RGB). */
  pixels: 'pixels',
  /** int64 [N]: the batch (in fed order) sorted by kind, as positions in it. */
  sort: 'trivial_sort',
  /** int64 [KINDS]: how many images of each kind, in KINDS order. */
  counts: 'trivial_counts',
  /** int64 [N]: where each fed image is in the sorted batch. */
  unsort: 'trivial_unsort',
  /** float32 [N,6,1,1], sorted: each image's parameters (see trivialParams). */
  params: 'trivial_params',
  /** uint8 [N,H,W,3]: each image after its op. */
  output: 'trivial',
};

/** The ops grouped by what the graph does for them. */
const KINDS = ['identity', 'affine', 'blend', 'sharpness', 'point', 'autocontrast', 'equalize'] as const;
type Kind = (typeof KINDS)[number];
const KIND_OF: Record<TrivialOp, Kind> = {
  Identity: 'identity',
  ShearX: 'affine',
  ShearY: 'affine',
  TranslateX: 'affine',
  TranslateY: 'affine',
  Rotate: 'affine',
  Brightness: 'blend',
  Color: 'blend',
  Contrast: 'blend',
  Sharpness: 'sharpness',
  Posterize: 'point',
  Solarize: 'point',
  AutoContrast: 'autocontrast',
  Equalize: 'equalize',
};

/** TrivialAugment's graph on HWC bytes [N,H,W,3] of `size`. */
export function trivialGraph(size: [number, number]): Graph {
  const g = new Graph();
  const [h, w] = size;
  g.inputs.push({ name: TRIVIAL_IO.pixels, dtype: 'uint8', shape: ['N', h, w, 3] });
  const k = (v: number) => g.constant(f32([], [v]), 'k');
  const out = trivialOps(g, TRIVIAL_IO.pixels, size, k);
  g.add('Identity', [out], { outputs: [TRIVIAL_IO.output] });
  g.outputs.push({ name: TRIVIAL_IO.output, dtype: 'uint8', shape: ['N', h, w, 3] });
  return g;
}

/** The TrivialAugment step on HWC bytes [N,H,W,3] of `size`; its output is the same bytes' shape. */
function trivialOps(g: Graph, pixels: string, size: [number, number], k: Konst): string {
  g.inputs.push(
    { name: TRIVIAL_IO.sort, dtype: 'int64', shape: ['N'] },
    { name: TRIVIAL_IO.counts, dtype: 'int64', shape: [KINDS.length] },
    { name: TRIVIAL_IO.unsort, dtype: 'int64', shape: ['N'] },
    { name: TRIVIAL_IO.params, dtype: 'float32', shape: ['N', 6, 1, 1] },
  );
  const bySlice = (x: string) =>
    g.add('Split', [x, TRIVIAL_IO.counts], { outputs: KINDS.length, attrs: { axis: attr.int(0) } });
  const slices = bySlice(g.op('Gather', [pixels, TRIVIAL_IO.sort], { axis: attr.int(0) }));
  const params = bySlice(TRIVIAL_IO.params);
  const done = KINDS.map((kind, i) => kindOp(g, kind, slices[i], params[i], size, k));
  return g.op('Gather', [g.op('Concat', done, { axis: attr.int(0) }), TRIVIAL_IO.unsort], {
    axis: attr.int(0),
  });
}

function kindOp(g: Graph, kind: Kind, x: string, params: string, size: [number, number], k: Konst): string {
  const [h, w] = size;
  const column = () => g.add('Split', [params], { outputs: 6, attrs: { axis: attr.int(1) } });
  const float = () => cast(g, x, 'float32');
  switch (kind) {
    case 'identity':
      return x;
    case 'affine':
      return nearestAffine(g, x, size, k, params);
    case 'blend':
      return onPlanes(g, x, (planes) => blendOp(g, planes, column().slice(0, 4), h * w, k));
    case 'sharpness':
      return h <= 2 || w <= 2 ? x : sharpnessOp(g, x, column(), size, k);
    case 'point': {
      // Solarize then posterize: where(v ≥ threshold, 255 − v, v), then v & −step as floor(v / step)·step.
      const [threshold, step] = column();
      const v = float();
      const solarized = g.op('Where', [g.op('GreaterOrEqual', [v, threshold]), g.op('Sub', [k(255), v]), v]);
      return cast(g, g.op('Mul', [g.op('Floor', [g.op('Div', [solarized, step])]), step]), 'uint8');
    }
    case 'autocontrast':
      return autocontrastOp(g, float(), k);
    case 'equalize':
      return equalizeOp(g, x, size);
  }
}

/** Runs `op` on the R, G and B planes [n,H,W,1] of HWC bytes as float32 and gives back bytes. */
function onPlanes(g: Graph, x: string, op: (planes: Planes) => Planes): string {
  const planes = g.add('Split', [cast(g, x, 'float32')], { outputs: 3, attrs: { axis: attr.int(3) } });
  return cast(g, g.op('Concat', op(planes as Planes), { axis: attr.int(3) }), 'uint8');
}

/**
 * adjust_sharpness: _blend(img, blurred, factor), where blurred is the 3x3 kernel (1 1 1, 1 5 1, 1 1 1)/13
 * convolved in float32 and rounded inside a 1-pixel border, the image itself on the border. The blur's
 * exact value is a multiple of 1/13 (never a half), so torch's rounding of its float32 conv is that of
 * (3x3 box sum + 4·centre) / 13, whose sum the graph makes exactly from shifted slices (cheaper than a
 * one-channel Conv).
 */
function sharpnessOp(
  g: Graph,
  x: string,
  [ratio, rest]: string[],
  [h, w]: [number, number],
  k: Konst,
): string {
  const ints = (v: number[]) => g.constant(i64([v.length], v), 'k');
  const slice = (t: string, axis: number, from: number, to: number) =>
    g.op('Slice', [t, ints([from]), ints([to]), ints([axis])]);
  const box = (t: string, axis: number, n: number) =>
    g.op('Add', [g.op('Add', [slice(t, axis, 0, n - 2), slice(t, axis, 1, n - 1)]), slice(t, axis, 2, n)]);
  const v = cast(g, x, 'float32');
  const centre = slice(slice(v, 1, 1, h - 1), 2, 1, w - 1);
  const sum = g.op('Add', [box(box(v, 2, w), 1, h), g.op('Mul', [centre, k(4)])]);
  const blur = g.op('Round', [g.op('Div', [sum, k(13)])]);
  const framed = g.op('Pad', [blur, ints([0, 1, 1, 0, 0, 1, 1, 0])]);
  const interior = g.constant(
    tensor(
      'bool',
      [1, h, w, 1],
      Uint8Array.from({ length: h * w }, (_, i) => {
        const [y, x] = [Math.floor(i / w), i % w];
        return y > 0 && y < h - 1 && x > 0 && x < w - 1 ? 1 : 0;
      }),
    ),
    'interior',
  );
  const blurred = g.op('Where', [interior, framed, v]);
  return cast(g, mixOp(g, v, ratio, g.op('Mul', [blurred, rest]), k), 'uint8');
}

/**
 * autocontrast: per channel, (v − min)·(255 / (max − min)) in float32, clamped and truncated; a flat
 * channel (max = min, an infinite scale) is left as it is.
 */
function autocontrastOp(g: Graph, v: string, k: Konst): string {
  const over = (op: string) => g.op(op, [v], { axes: attr.ints([1, 2]), keepdims: attr.int(1) });
  const [lo, hi] = [over('ReduceMin'), over('ReduceMax')];
  const flat = g.op('Equal', [hi, lo]);
  const minimum = g.op('Where', [flat, k(0), lo]);
  // `255.0 / t` is Tensor.__rtruediv__: t.reciprocal() * 255, two float32 roundings.
  const scale = g.op('Where', [
    flat,
    k(1),
    g.op('Mul', [g.op('Reciprocal', [g.op('Sub', [hi, lo])]), k(255)]),
  ]);
  const out = g.op('Clip', [g.op('Mul', [g.op('Sub', [v, minimum]), scale]), k(0), k(255)]);
  return cast(g, g.op('Floor', [out]), 'uint8');
}

/**
 * equalize, in int64 as torch: per channel, the histogram (ScatterElements, add); step = (pixels − the
 * count of the top value) // 255 (the sum of the non-zero bins but the last); lut[v] = min((count below v
 * + step // 2) // step, 255) (torch's cumsum padded by a leading 0), applied by GatherElements; a
 * channel with step 0 is left as it is.
 */
function equalizeOp(g: Graph, x: string, [h, w]: [number, number]): string {
  const ints = (shape: number[], v: number[]) => g.constant(i64(shape, v), 'k');
  const values = g.op('Reshape', [cast(g, x, 'int64'), ints([3], [0, h * w, 3])]);
  const filled = (shape: string, v: number) =>
    g.op('ConstantOfShape', [shape], { value: attr.tensor(i64([1], [v])) });
  const n = g.op('Shape', [values], { end: attr.int(1) });
  const bins = filled(g.op('Concat', [n, ints([2], [256, 3])], { axis: attr.int(0) }), 0);
  const ones = filled(g.op('Shape', [values]), 1);
  const hist = g.op('ScatterElements', [bins, values, ones], {
    axis: attr.int(1),
    reduction: attr.string('add'),
  });
  const top = g.op('ReduceMax', [values], { axes: attr.ints([1]), keepdims: attr.int(1) });
  const atTop = g.op('GatherElements', [hist, top], { axis: attr.int(1) });
  const step = g.op('Div', [g.op('Sub', [ints([], [h * w]), atTop]), ints([], [255])]);
  const below = g.op('CumSum', [hist, ints([], [1])], { exclusive: attr.int(1) });
  const lut = g.op('Min', [
    g.op('Div', [
      g.op('Add', [below, g.op('Div', [step, ints([], [2])])]),
      g.op('Max', [step, ints([], [1])]),
    ]),
    ints([], [255]),
  ]);
  const mapped = g.op('GatherElements', [lut, values], { axis: attr.int(1) });
  const out = g.op('Where', [g.op('Equal', [step, ints([], [0])]), values, mapped]);
  return g.op('Reshape', [cast(g, out, 'uint8'), ints([4], [0, h, w, 3])]);
}

/**
 * One image's parameters, as _apply_op derives them from the magnitude m (six float32 slots, the rest 0):
 * affine ops the inverse matrix divided by the half sizes (a, b, c, d, e, f, see nearestAffine);
 * Brightness, Color, Contrast (1 + m, 1 − (1 + m), contrast?, saturation?) for blendOp; Sharpness the
 * first two;
 * Posterize (256, 2^(8 − bits)) and Solarize (m, 1) as (threshold, step).
 */
function trivialParams(d: TrivialDraw, [h, w]: [number, number]): number[] {
  const op = TRIVIAL_OPS[d.op];
  const m = trivialMagnitude(d);
  const degrees = (rad: number) => rad * (180 / Math.PI);
  const ratio = 1 + m;
  const blend = (contrast: number, saturation: number) => [ratio, 1 - ratio, contrast, saturation];
  switch (op) {
    case 'ShearX':
    case 'ShearY': {
      const shear = degrees(Math.atan(m));
      // center=[0, 0]: the top-left corner, −(W/2, H/2) from the centre.
      return rescaled(
        inverseAffine([-w * 0.5, -h * 0.5], 0, [0, 0], op === 'ShearX' ? [shear, 0] : [0, shear]),
        h,
        w,
      );
    }
    case 'TranslateX':
    case 'TranslateY': {
      const t = Math.trunc(m); // int(magnitude)
      return rescaled(inverseAffine([0, 0], 0, op === 'TranslateX' ? [t, 0] : [0, t], [0, 0]), h, w);
    }
    case 'Rotate':
      return rescaled(inverseAffine([0, 0], -m, [0, 0], [0, 0]), h, w);
    case 'Brightness':
      return blend(0, 0);
    case 'Color':
      return blend(0, 1);
    case 'Contrast':
      return blend(1, 0);
    case 'Sharpness':
      return [ratio, 1 - ratio];
    case 'Posterize':
      return [256, 2 ** (8 - Math.trunc(m))];
    case 'Solarize':
      return [m, 1];
    default:
      return [];
  }
}

/**
 * torchvision's _get_inverse_affine_matrix(center, angle, translate, scale 1, shear) in double, as
 * Python computes it (math.radians is x·(π/180)).
 */
function inverseAffine(
  [cx, cy]: [number, number],
  angle: number,
  [tx, ty]: [number, number],
  [shearX, shearY]: [number, number],
): number[] {
  const radians = (deg: number) => deg * (Math.PI / 180);
  const [rot, sx, sy] = [radians(angle), radians(shearX), radians(shearY)];
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d, -b, 0, -c, a, 0];
  m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty);
  m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty);
  m[2] += cx;
  m[5] += cy;
  return m;
}

/** _gen_affine_grid's rescaled_theta: the float32 matrix's rows divided by ½W and ½H in float32. */
function rescaled(m: number[], h: number, w: number): number[] {
  const f = Math.fround;
  return m.map((v, i) => f(f(v) / (0.5 * (i < 3 ? w : h))));
}

/** The graph's inputs: `pixels`, the images' HWC bytes one after another, and their draws in that order. */
export function trivialFeeds(
  pixels: Uint8Array,
  draws: readonly TrivialDraw[],
  size: [number, number],
): Record<string, Tensor> {
  const n = draws.length;
  const kinds = draws.map((d) => KINDS.indexOf(KIND_OF[TRIVIAL_OPS[d.op]]));
  const sort = draws.map((_, i) => i).sort((a, b) => kinds[a] - kinds[b]);
  const unsort = new Array<number>(n);
  sort.forEach((i, at) => (unsort[i] = at));
  const params = new Float32Array(n * 6);
  sort.forEach((i, at) => params.set(trivialParams(draws[i], size), at * 6));
  return {
    [TRIVIAL_IO.pixels]: tensor('uint8', [n, size[0], size[1], 3], pixels),
    [TRIVIAL_IO.sort]: i64([n], sort),
    [TRIVIAL_IO.counts]: i64(
      [KINDS.length],
      KINDS.map((_, kind) => kinds.filter((x) => x === kind).length),
    ),
    [TRIVIAL_IO.unsort]: i64([n], unsort),
    [TRIVIAL_IO.params]: f32([n, 6, 1, 1], params),
  };
}
