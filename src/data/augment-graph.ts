import { attr, Graph } from '../graph/ir.js';
import { f32, i64, tensor, type Tensor } from '../graph/tensor.js';
import type { Preprocess } from '../models/backbone.js';
import type { AugmentConfig, AugmentDraw, JitterConfig } from './augment.js';
import { blendOp, cast, nearestAffine, type Planes } from './augment-graph-ops.js';
import { bilinearTaps } from './resized-crop.js';
import { trivialFeeds, trivialOps } from './trivial-augment-graph.js';

/*
 * torchvision's training transforms (RandomResizedCrop → RandomHorizontalFlip → RandomRotation →
 * TrivialAugmentWide → ColorJitter → Normalize) as one ONNX graph over a whole batch, so ONNX Runtime's threads and vector
 * kernels run them: the loader only copies cached pixels and feeds per-sample parameters drawn in JS. A
 * transform that is off adds no node, so the graph without the crop is the one from before it existed.
 *
 * Exactness: torchvision computes each colour op in float32 and truncates back to uint8; the graph
 * does the same ops in the same order in float32 and truncates (Floor) after each one, so the bytes
 * match torchvision's (the parity fixture checks 42 cases bit for bit). The contrast mean is exact while
 * a grey image's sum fits float32's integers, i.e. up to 256x256 pixels (larger inputs: within one
 * grey level). Normalisation is torchvision's float32 ToTensor and Normalize, as toCHW computes it.
 */

/** The graph's input and output names. */
export const AUGMENT_IO = {
  /** uint8 [N,H,W,3]: the images as stored (HWC RGB), in `order`. */
  pixels: 'pixels',
  /** int64 [N,2,W]: per output column, its two source columns in the stored image (bilinearTaps). */
  cropX: 'crop_x',
  /** float32 [N,2,W]: their weights. */
  cropWx: 'crop_wx',
  /** int64 [N,2,H]: per output row, its two source rows. */
  cropY: 'crop_y',
  /** float32 [N,2,H]: their weights. */
  cropWy: 'crop_wy',
  /** float32 [N,4,1,1]: the inverse rotation divided by the half sizes, (cos/½w, −sin/½w, sin/½h, cos/½h). */
  affine: 'affine',
  /** bool [N,1,1,1]: mirror the image first. */
  flip: 'flip',
  /** float32 [N, 4·blends (+ 1), 1, 1]: per blend slot (ratio, 1 − ratio, contrast?, saturation?), then the hue shift. */
  colour: 'colour',
  /** int64 [blends + 1]: how many samples (in `pixels` order) take the hue shift after 0, 1, ... blends. */
  hueCounts: 'hue_counts',
  /** int64 [N]: where each output image is in the fed order (fed grouped by hue position, see above). */
  unsort: 'unsort',
  /* TrivialAugment's inputs: TRIVIAL_IO (trivial-augment-graph.ts). */
  /** float32 [N,3,H,W]: the normalised batch. */
  output: 'input',
};

const f32s = (v: number) => f32([], [v]);

/** What a configuration's graph computes, and so which inputs it has. */
function layoutOf(cfg: AugmentConfig | undefined) {
  const j = cfg?.jitter;
  const blends = j ? [j.brightness, j.contrast, j.saturation].filter((x) => x > 0).length : 0;
  const hue = j ? j.hue > 0 : false;
  return {
    crop: cfg?.cropScale !== undefined,
    trivial: cfg?.trivialAugment === true,
    geometry: cfg ? cfg.hflip > 0 || cfg.rotate > 0 : false,
    blends,
    hue,
    /** The batch goes in grouped by where hue falls among the blends. */
    grouped: hue && blends > 0,
    colourWidth: 4 * blends + (hue ? 1 : 0),
  };
}

/** Builds the batch graph for images of `size` under `cfg` (omit it: normalisation only, for evaluation). */
export function buildAugmentGraph(size: [number, number], p: Preprocess, cfg?: AugmentConfig): Graph {
  const g = new Graph();
  const [h, w] = size;
  const k = (v: number, hint = 'k') => g.constant(f32s(v), hint);
  g.inputs.push({ name: AUGMENT_IO.pixels, dtype: 'uint8', shape: ['N', h, w, 3] });
  const { crop, geometry, trivial, blends, hue, grouped } = layoutOf(cfg);
  const cropped = crop ? cropOps(g, AUGMENT_IO.pixels, size) : AUGMENT_IO.pixels;
  const turned = geometry ? geometryOps(g, cropped, size, k) : cropped;
  const hwc = trivial ? trivialOps(g, turned, size, k) : turned;
  const chw = g.op('Transpose', [hwc], { perm: attr.ints([0, 3, 1, 2]) });
  let x: string;
  if (blends > 0 || hue) {
    // The colour ops work on the three channel planes [N,1,H,W], float32 holding whole grey levels.
    const bytes = g.add('Split', [chw], { outputs: 3, attrs: { axis: attr.int(1) } });
    const planes = bytes.map((c) => cast(g, c, 'float32')) as Planes;
    x = g.op('Concat', jitterOps(g, planes, blends, hue, size, k), { axis: attr.int(1) });
  } else x = cast(g, chw, 'float32');
  // ToTensor and Normalize, in float32 as torchvision: v/255, − mean, / std.
  const perChannel = (v: number[]) => g.constant(f32([1, 3, 1, 1], v), 'normalise');
  let out = g.op('Div', [g.op('Sub', [g.op('Div', [x, k(255)]), perChannel(p.mean)]), perChannel(p.std)]);
  if (grouped) out = g.op('Gather', [out, AUGMENT_IO.unsort], { axis: attr.int(0) });
  g.add('Identity', [out], { outputs: [AUGMENT_IO.output] });
  g.outputs.push({ name: AUGMENT_IO.output, dtype: 'float32', shape: ['N', 3, h, w] });
  return g;
}

/**
 * resized_crop(img, top, left, h, w, [H, W], BILINEAR, antialias=False) on the HWC bytes, as PyTorch's
 * CPU upsample_bilinear2d computes it on the crop in float32, then rounded half to even to uint8 (the
 * per-sample taps are bilinearTaps'). The kernel is separable: each output pixel is
 * fma(t0, wy0, t1·wy1) of the rows t = fma(p0, wx0, p1·wx1) of its two source columns, so the graph
 * interpolates every stored row at the output's columns (one GatherND per column tap), then gathers the
 * output's rows of that whole. PyTorch's AVX2 kernel contracts `t0·w0 + t1·w1` into a fused
 * multiply-add; ONNX has none, so the graph rounds t1·w1 to float32, adds t0·w0 to it in double (the
 * product of two float32 is exact there) and rounds the sum to float32. The bytes equal torchvision's
 * on contiguous CHW tensors (the crop fixture checks 193 boxes; a one-off check of 2,350 random boxes at
 * sizes up to 288x288, 154 M bytes, found no difference). A double rounding could in theory differ from
 * the fused one by one float32 step, which moves a byte only at an exact half, by one grey level.
 */
function cropOps(g: Graph, pixels: string, [h, w]: [number, number]): string {
  g.inputs.push(
    { name: AUGMENT_IO.cropX, dtype: 'int64', shape: ['N', 2, w] },
    { name: AUGMENT_IO.cropWx, dtype: 'float32', shape: ['N', 2, w] },
    { name: AUGMENT_IO.cropY, dtype: 'int64', shape: ['N', 2, h] },
    { name: AUGMENT_IO.cropWy, dtype: 'float32', shape: ['N', 2, h] },
  );
  const shape = (...dims: number[]) => g.constant(i64([dims.length], dims), 'shape');
  const taps = (input: string, dims: number[]) =>
    g
      .add('Split', [input], { outputs: 2, attrs: { axis: attr.int(1) } })
      .map((t) => g.op('Reshape', [t, shape(...dims)]));
  const fma = (t0: string, t1: string, [w0, w1]: string[]) => {
    const first = g.op('Mul', [cast(g, t0, 'float64'), cast(g, w0, 'float64')]);
    return cast(g, g.op('Add', [first, cast(g, g.op('Mul', [t1, w1]), 'float64')]), 'float32');
  };
  // Across: stored row y at source column x is pixel y·W + x.
  const rowStarts = g.constant(
    i64(
      [1, h, 1],
      Array.from({ length: h }, (_, y) => y * w),
    ),
    'rows',
  );
  const pixelRows = g.op('Reshape', [pixels, shape(0, -1, 3)]);
  const column = (x: string) => {
    const at = g.op('Reshape', [g.op('Add', [rowStarts, x]), shape(0, -1, 1)]);
    return g.op('Reshape', [
      g.op('GatherND', [pixelRows, at], { batch_dims: attr.int(1) }),
      shape(0, h, w, 3),
    ]);
  };
  const [x0, x1] = taps(AUGMENT_IO.cropX, [0, 1, w]);
  const across = fma(column(x0), cast(g, column(x1), 'float32'), taps(AUGMENT_IO.cropWx, [0, 1, w, 1]));
  // Down: whole rows [W·3] of that.
  const lines = g.op('Reshape', [across, shape(0, h, w * 3)]);
  const row = (y: string) => g.op('GatherND', [lines, y], { batch_dims: attr.int(1) });
  const [y0, y1] = taps(AUGMENT_IO.cropY, [0, h, 1]);
  const down = fma(row(y0), row(y1), taps(AUGMENT_IO.cropWy, [0, h, 1]));
  return g.op('Reshape', [cast(g, g.op('Round', [down]), 'uint8'), shape(0, h, w, 3)]);
}

/**
 * Flip then rotation (torchvision's F.rotate, NEAREST, expand=False, fill 0) on the HWC bytes; the flip
 * mirrors the source column (see nearestAffine).
 */
function geometryOps(g: Graph, pixels: string, size: [number, number], k: (v: number) => string): string {
  g.inputs.push(
    { name: AUGMENT_IO.affine, dtype: 'float32', shape: ['N', 4, 1, 1] },
    { name: AUGMENT_IO.flip, dtype: 'bool', shape: ['N', 1, 1, 1] },
  );
  return nearestAffine(g, pixels, size, k, AUGMENT_IO.affine, { flip: AUGMENT_IO.flip });
}

/** convert_image_dtype(float → uint8) scales by 255 + 1 − 1e-3 and truncates. */
const TO_UINT8 = 255.999;

/**
 * ColorJitter in its per-image random order. The brightness, contrast and saturation adjustments are
 * all _blend(img, ratio, other): one "blend slot" op whose `other` (0, the grey mean or the grey image)
 * is picked by per-sample weights. Hue is the one op of another kind; the batch is fed grouped by where
 * hue falls among the enabled ops, and each group runs its blends before and after one hue shift.
 */
function jitterOps(
  g: Graph,
  x: Planes,
  blends: number,
  hue: boolean,
  [h, w]: [number, number],
  k: (v: number) => string,
): Planes {
  const width = 4 * blends + (hue ? 1 : 0);
  g.inputs.push({ name: AUGMENT_IO.colour, dtype: 'float32', shape: ['N', width, 1, 1] });
  const paramsOf = (v: string) => g.add('Split', [v], { outputs: width, attrs: { axis: attr.int(1) } });
  const slots = (y: Planes, params: string[], from: number, to: number) => {
    for (let s = from; s < to; s++) y = blendOp(g, y, params.slice(4 * s, 4 * s + 4), h * w, k);
    return y;
  };
  if (!hue || blends === 0) {
    const params = width === 1 ? [AUGMENT_IO.colour] : paramsOf(AUGMENT_IO.colour);
    return hue ? hueOp(g, x, params[0], k) : slots(x, params, 0, blends);
  }
  g.inputs.push(
    { name: AUGMENT_IO.hueCounts, dtype: 'int64', shape: [blends + 1] },
    { name: AUGMENT_IO.unsort, dtype: 'int64', shape: ['N'] },
  );
  const split = (v: string) =>
    g.add('Split', [v, AUGMENT_IO.hueCounts], { outputs: blends + 1, attrs: { axis: attr.int(0) } });
  const [byPlane, colours] = [x.map(split), split(AUGMENT_IO.colour)];
  const parts = colours.map((colour, pos) => {
    const params = paramsOf(colour);
    const before = slots(byPlane.map((plane) => plane[pos]) as Planes, params, 0, pos);
    return slots(hueOp(g, before, params[width - 1], k), params, pos, blends);
  });
  return [0, 1, 2].map((c) =>
    g.op(
      'Concat',
      parts.map((part) => part[c]),
      { axis: attr.int(0) },
    ),
  ) as Planes;
}

/**
 * adjust_hue: torchvision's _rgb2hsv, h ← (h + shift) mod 1, _hsv2rgb, then back to uint8; every step
 * in float32 as torch does it.
 */
function hueOp(g: Graph, x: Planes, shift: string, k: (v: number) => string): Planes {
  const op = (name: string, ...inputs: string[]) => g.op(name, inputs);
  const [r, gr, b] = x.map((c) => op('Div', c, k(255)));
  // _rgb2hsv
  const v = op('Max', r, gr, b);
  const minc = op('Min', r, gr, b);
  const cr = op('Sub', v, minc);
  // torch divides by 1 where the pixel is grey (cr = 0, so 0 either way): a floor below any non-grey
  // v or cr (multiples of about 1/255) gives the same quotients.
  const s = op('Div', cr, op('Max', v, k(1e-6)));
  const d = op('Max', cr, k(1e-6));
  const [rc, gc, bc] = [r, gr, b].map((c) => op('Div', op('Sub', v, c), d));
  const isR = op('Equal', v, r);
  const isG = op('Equal', v, gr);
  // Exactly one of torch's three masked terms is non-zero, so picking it equals their sum.
  const sector = op(
    'Where',
    isR,
    op('Sub', bc, gc),
    op('Where', isG, op('Sub', op('Add', k(2), rc), bc), op('Sub', op('Add', k(4), gc), rc)),
  );
  // (x % 1.0) for x in (−1, 2) is x − floor(x), exactly (Sterbenz): torch.remainder's result in [0, 1).
  const frac = (a: string) => op('Sub', a, op('Floor', a));
  const h0 = frac(op('Add', op('Div', sector, k(6)), k(1)));
  const hue = frac(op('Add', h0, shift));
  // _hsv2rgb. A hue that rounded up to 1 gives h·6 = 6: sextant 6 is sextant 0 with f = 0, as 0 itself.
  const h6raw = op('Mul', hue, k(6));
  const h6 = op('Where', op('Less', h6raw, k(6)), h6raw, k(0));
  const sextant = op('Floor', h6);
  const f = op('Sub', h6, sextant);
  // v, s and f are in [0, 1], so p, q and t are too: torch's clamp to [0, 1] never changes them.
  const p = op('Mul', v, op('Sub', k(1), s));
  const q = op('Mul', v, op('Sub', k(1), op('Mul', s, f)));
  const t = op('Mul', v, op('Sub', k(1), op('Mul', s, op('Sub', k(1), f))));
  // Sextants 0..5 take (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q): a chain of Where on sextant < n,
  // one link per run of equal choices.
  const below = new Map<number, string>();
  const chain = (vals: string[]) => {
    let out = vals[5];
    for (let n = 4; n >= 0; n--) {
      if (vals[n] === vals[n + 1]) continue;
      if (!below.has(n + 1)) below.set(n + 1, op('Less', sextant, k(n + 1)));
      out = op('Where', below.get(n + 1)!, vals[n], out);
    }
    return out;
  };
  const planes = [chain([v, q, p, p, t, v]), chain([t, v, v, q, p, p]), chain([p, p, t, v, v, q])];
  return planes.map((c) => op('Floor', op('Mul', c, k(TO_UINT8)))) as Planes;
}

/**
 * The graph's inputs for a batch: the images (HWC RGB bytes of the graph's size) and their draws (omit
 * both draws and `cfg` for normalisation only). The colour parameters are rounded to float32 as torch
 * rounds them.
 */
export function augmentFeeds(
  images: readonly Uint8Array[],
  [h, w]: [number, number],
  cfg?: AugmentConfig,
  draws?: readonly AugmentDraw[],
): Record<string, Tensor> {
  const n = images.length;
  const { crop, geometry, trivial, blends, hue, grouped, colourWidth } = layoutOf(cfg);
  if (cfg && draws?.length !== n)
    throw new Error(`augmentFeeds: ${draws?.length ?? 0} draws for ${n} images`);
  const slotsOf = blends > 0 || hue ? draws!.map((d) => jitterSlots(cfg!.jitter, d)) : undefined;
  // Stable grouping by hue position; without groups the fed order is the batch order.
  const fed = images.map((_, i) => i);
  if (grouped) fed.sort((a, b) => slotsOf![a].huePosition - slotsOf![b].huePosition);
  const pixels = new Uint8Array(n * h * w * 3);
  fed.forEach((i, at) => {
    if (images[i].length !== h * w * 3) throw new Error(`augmentFeeds: image ${i} is not ${h}x${w} RGB`);
    pixels.set(images[i], at * h * w * 3);
  });
  const feeds: Record<string, Tensor> = { [AUGMENT_IO.pixels]: tensor('uint8', [n, h, w, 3], pixels) };
  if (crop) {
    const [cx, cwx, cy, cwy] = [[], [], [], []] as number[][];
    for (const i of fed) {
      const box = draws![i].crop;
      if (!box) throw new Error(`augmentFeeds: draw ${i} has no crop box`);
      const [across, down] = [bilinearTaps(box.left, box.width, w), bilinearTaps(box.top, box.height, h)];
      for (const t of [0, 1]) {
        cx.push(...across.index[t]);
        cwx.push(...across.weight[t]);
        cy.push(...down.index[t]);
        cwy.push(...down.weight[t]);
      }
    }
    feeds[AUGMENT_IO.cropX] = i64([n, 2, w], cx);
    feeds[AUGMENT_IO.cropWx] = f32([n, 2, w], cwx);
    feeds[AUGMENT_IO.cropY] = i64([n, 2, h], cy);
    feeds[AUGMENT_IO.cropWy] = f32([n, 2, h], cwy);
  }
  if (geometry) {
    const affine = new Float32Array(n * 4);
    const flip = new Uint8Array(n);
    fed.forEach((i, at) => {
      affine.set(inverseRotation(draws![i].degrees, h, w), at * 4);
      flip[at] = draws![i].flip ? 1 : 0;
    });
    feeds[AUGMENT_IO.affine] = f32([n, 4, 1, 1], affine);
    feeds[AUGMENT_IO.flip] = tensor('bool', [n, 1, 1, 1], flip);
  }
  if (trivial)
    Object.assign(
      feeds,
      trivialFeeds(
        fed.map((i) => {
          if (!draws![i].trivial) throw new Error(`augmentFeeds: draw ${i} has no TrivialAugment op`);
          return draws![i].trivial!;
        }),
        [h, w],
      ),
    );
  if (blends > 0 || hue) {
    const colour = new Float32Array(n * colourWidth);
    fed.forEach((i, at) => colour.set(slotsOf![i].params, at * colourWidth));
    feeds[AUGMENT_IO.colour] = f32([n, colourWidth, 1, 1], colour);
  }
  if (grouped) {
    const counts = Array.from(
      { length: blends + 1 },
      (_, pos) => fed.filter((i) => slotsOf![i].huePosition === pos).length,
    );
    feeds[AUGMENT_IO.hueCounts] = i64([blends + 1], counts);
    const unsort = new Array<number>(n);
    fed.forEach((i, at) => (unsort[i] = at));
    feeds[AUGMENT_IO.unsort] = i64([n], unsort);
  }
  return feeds;
}

/**
 * _get_inverse_affine_matrix(centre 0, −angle) divided by the half sizes (rescaled_theta of
 * _gen_affine_grid), in float32: (cos/½w, −sin/½w, sin/½h, cos/½h).
 */
function inverseRotation(degrees: number, h: number, w: number): number[] {
  const rad = (degrees * Math.PI) / 180;
  const [cos, sin] = [Math.fround(Math.cos(rad)), Math.fround(Math.sin(rad))];
  return [cos / (0.5 * w), -sin / (0.5 * w), sin / (0.5 * h), cos / (0.5 * h)];
}

/**
 * One image's ColorJitter draws as blend slots, in the drawn order of the enabled adjustments:
 * (ratio, 1 − ratio, is contrast, is saturation) each, then the hue shift; and how many blends run
 * before the hue shift.
 */
function jitterSlots(c: JitterConfig, d: AugmentDraw): { params: number[]; huePosition: number } {
  const j = d.jitter!;
  const factors = [j.brightness, j.contrast, j.saturation];
  const params: number[] = [];
  let huePosition = 0;
  for (const op of j.order) {
    if (op === 3) huePosition = params.length / 4;
    else if (factors[op] !== undefined)
      params.push(factors[op]!, 1 - factors[op]!, op === 1 ? 1 : 0, op === 2 ? 1 : 0);
  }
  if (c.hue > 0) params.push(j.hue!);
  return { params, huePosition };
}
