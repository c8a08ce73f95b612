/*
 * AssemblyScript, compiled to WebAssembly with 128-bit SIMD by `npm run build` (asc, see package.json):
 * torchvision's training transforms for one image, each in float32 in torch's order of operations, so
 * the bytes are torchvision's (test/data/augment.test.ts checks them against recorded fixtures). One
 * pass per transform over an image that stays in cache, four pixels a lane group: the ONNX graph this
 * replaces made a hundred-odd memory-bound passes over every batch (augment-kernel.ts drives it).
 */

/** Bump allocation in this module's own memory; the caller keeps what it allocates for the module's life. */
export function alloc(bytes: usize): usize {
  return heap.alloc(bytes);
}

/**
 * RandomResizedCrop's resize (resized_crop, BILINEAR, antialias=False) of HWC bytes `src` to `dst`, as
 * PyTorch's CPU upsample_bilinear2d computes it in float32: per output column, its two source columns
 * `x0`, `x1` (i32 [w]) weighted `wx0`, `wx1` (f32 [w]) across every stored row into `across` (f32
 * [h·w·3]), then per output row its two rows `y0`, `y1` weighted `wy0`, `wy1` down, rounded half to
 * even. PyTorch's kernel contracts t0·w0 + t1·w1 into a fused multiply-add: here t1·w1 is rounded to
 * float32 and t0·w0 added to it in double (the product of two float32 is exact there), then rounded.
 */
export function crop(
  src: usize,
  dst: usize,
  h: i32,
  w: i32,
  x0: usize,
  x1: usize,
  wx0: usize,
  wx1: usize,
  y0: usize,
  y1: usize,
  wy0: usize,
  wy1: usize,
  across: usize,
): void {
  for (let y = 0; y < h; y++) {
    const row = src + <usize>(y * w * 3);
    const out = across + ((<usize>(y * w * 3)) << 2);
    for (let x = 0; x < w; x++) {
      const i = (<usize>x) << 2;
      const p0 = row + <usize>(load<i32>(x0 + i) * 3);
      const p1 = row + <usize>(load<i32>(x1 + i) * 3);
      const w0 = load<f32>(wx0 + i);
      const w1 = load<f32>(wx1 + i);
      for (let c: usize = 0; c < 3; c++)
        store<f32>(
          out + ((<usize>x * 3 + c) << 2),
          fma(f32(load<u8>(p0 + c)), w0, f32(load<u8>(p1 + c)) * w1),
        );
    }
  }
  const line = w * 3;
  for (let y = 0; y < h; y++) {
    const i = (<usize>y) << 2;
    const r0 = across + ((<usize>(load<i32>(y0 + i) * line)) << 2);
    const r1 = across + ((<usize>(load<i32>(y1 + i) * line)) << 2);
    const w0 = load<f32>(wy0 + i);
    const w1 = load<f32>(wy1 + i);
    const out = dst + <usize>(y * line);
    for (let j = 0; j < line; j++) {
      const o = (<usize>j) << 2;
      store<u8>(out + <usize>j, <u8>nearest<f32>(fma(load<f32>(r0 + o), w0, load<f32>(r1 + o) * w1)));
    }
  }
}

/** t0·w0 + (t1·w1 already rounded to float32), summed in double and rounded once. */
function fma(t0: f32, w0: f32, t1w1: f32): f32 {
  return <f32>(<f64>t0 * <f64>w0 + <f64>t1w1);
}

/** A black pixel's bytes, and one more. */
const BLACK = memory.data(4);

/**
 * An inverse affine map then nearest grid_sample (align_corners=False, zeros) of HWC bytes `src` to
 * `dst`, as torchvision's _gen_affine_grid and grid_sample compute them (F.rotate, and TrivialAugment's
 * shears and translations): the output pixel centre (x, y), relative to the image centre, samples
 * (x·a + y·b + c, x·d + y·e + f) in [−1, 1] (the inverse matrix divided by the half sizes),
 * unnormalised and rounded half to even; `flip` mirrors that column (a RandomHorizontalFlip before it).
 * Sources outside the image are black. `at` is i32 scratch for one row, rounded up to four.
 */
export function affine(
  src: usize,
  dst: usize,
  h: i32,
  w: i32,
  a: f32,
  b: f32,
  c: f32,
  d: f32,
  e: f32,
  f: f32,
  flip: bool,
  at: usize,
): void {
  const va = f32x4.splat(a);
  const vb = f32x4.splat(b);
  const vc = f32x4.splat(c);
  const vd = f32x4.splat(d);
  const ve = f32x4.splat(e);
  const vf = f32x4.splat(f);
  const one = f32x4.splat(1);
  const half = f32x4.splat(0.5);
  const zero = f32x4.splat(0);
  const fw = f32x4.splat(<f32>w);
  const fh = f32x4.splat(<f32>h);
  const halfW = f32x4.splat(<f32>w / 2);
  const halfH = f32x4.splat(<f32>h / 2);
  const lastX = f32x4.splat(<f32>(w - 1));
  const black = i32x4.splat(-1);
  // Pixel centres are multiples of ½ below 2^22, so stepping them by 4 in float32 is exact: building
  // each group from scalars took a third of the function's time.
  const left = <f32>(0.5 - <f64>w * 0.5);
  const firstX = f32x4(left, left + 1, left + 2, left + 3);
  const four = f32x4.splat(4);
  for (let y = 0; y < h; y++) {
    const cy = f32x4.splat(<f32>(<f64>y - <f64>h * 0.5 + 0.5));
    const yb = f32x4.mul(cy, vb);
    const ye = f32x4.mul(cy, ve);
    let cx = firstX;
    for (let x = 0; x < w; x += 4, cx = f32x4.add(cx, four)) {
      const gx = f32x4.add(f32x4.add(f32x4.mul(cx, va), yb), vc);
      const gy = f32x4.add(f32x4.add(f32x4.mul(cx, vd), ye), vf);
      let sx = f32x4.nearest(f32x4.sub(f32x4.mul(f32x4.add(gx, one), halfW), half));
      const sy = f32x4.nearest(f32x4.sub(f32x4.mul(f32x4.add(gy, one), halfH), half));
      if (flip) sx = f32x4.sub(lastX, sx);
      const inside = v128.and(
        v128.and(f32x4.ge(sx, zero), f32x4.lt(sx, fw)),
        v128.and(f32x4.ge(sy, zero), f32x4.lt(sy, fh)),
      );
      // Row-major pixel index, exact in float32 below 2^24.
      const index = i32x4.trunc_sat_f32x4_s(f32x4.add(f32x4.mul(sy, fw), sx));
      v128.store(at + ((<usize>x) << 2), v128.bitselect(index, black, inside));
    }
    // A pixel's 3 bytes moved as 4: the fourth lands on the next pixel, written after it (the buffers
    // have room past the image for the last).
    const out = dst + <usize>(y * w * 3);
    for (let x = 0; x < w; x++) {
      const i = load<i32>(at + ((<usize>x) << 2));
      store<u32>(out + <usize>(x * 3), load<u32>(select<usize>(src + <usize>(i * 3), BLACK, i >= 0)));
    }
  }
}

/** rgb_to_grayscale truncated: 0.2989 R + 0.587 G + 0.114 B in float32, summed left to right. */
function grey(r: v128, g: v128, b: v128): v128 {
  const sum = f32x4.add(
    f32x4.add(f32x4.mul(r, f32x4.splat(<f32>0.2989)), f32x4.mul(g, f32x4.splat(<f32>0.587))),
    f32x4.mul(b, f32x4.splat(<f32>0.114)),
  );
  return f32x4.floor(sum);
}

/** _blend's last step: ratio·c + other, clamped to [0, 255] and truncated. */
function mix(c: v128, ratio: v128, other: v128): v128 {
  const mixed = f32x4.add(f32x4.mul(c, ratio), other);
  return f32x4.floor(f32x4.pmin(f32x4.pmax(mixed, f32x4.splat(0)), f32x4.splat(255)));
}

/** Which of ColorJitter's adjustments an op is (torch.randperm(4)'s numbers; 0 is brightness). */
const CONTRAST = 1;
const SATURATION = 2;
const HUE = 3;

/**
 * adjust_brightness, adjust_contrast or adjust_saturation (`kind`) on the float planes r, g, b of `n`
 * whole grey levels (allocated rounded up to four): _blend(img, other, ratio) = ratio·img + (1 −
 * ratio)·other with other black, the grey image's mean, or the grey image; `rest` is 1 − ratio as
 * torch rounds it. The mean's sum is of integers, kept exact and rounded to float32 once (exact as
 * torch's while it is below 2^24, i.e. up to 256x256 pixels; beyond, torch's own sum rounds too).
 */
function blend(r: usize, g: usize, b: usize, n: i32, kind: i32, ratio: f32, rest: f32): void {
  const vr = f32x4.splat(ratio);
  const vrest = f32x4.splat(rest);
  let other = f32x4.splat(0);
  if (kind == CONTRAST) {
    // Lanes of at most 255·n/4 each; the last group's lanes past n are masked off.
    let lanes = i32x4.splat(0);
    for (let i = 0; i < n; i += 4) {
      const o = (<usize>i) << 2;
      let level = i32x4.trunc_sat_f32x4_s(grey(v128.load(r + o), v128.load(g + o), v128.load(b + o)));
      if (i + 4 > n) level = v128.and(level, i32x4.lt_s(i32x4(i, i + 1, i + 2, i + 3), i32x4.splat(n)));
      lanes = i32x4.add(lanes, level);
    }
    const sum =
      <i64>i32x4.extract_lane(lanes, 0) +
      <i64>i32x4.extract_lane(lanes, 1) +
      <i64>i32x4.extract_lane(lanes, 2) +
      <i64>i32x4.extract_lane(lanes, 3);
    other = f32x4.mul(f32x4.splat(<f32>sum / <f32>n), vrest);
  }
  for (let i = 0; i < n; i += 4) {
    const o = (<usize>i) << 2;
    const cr = v128.load(r + o);
    const cg = v128.load(g + o);
    const cb = v128.load(b + o);
    const by = kind == SATURATION ? f32x4.mul(grey(cr, cg, cb), vrest) : other;
    v128.store(r + o, mix(cr, vr, by));
    v128.store(g + o, mix(cg, vr, by));
    v128.store(b + o, mix(cb, vr, by));
  }
}

/** x − floor(x): torch.remainder(x, 1.0) for x in (−1, 2), exactly (Sterbenz). */
function frac(x: v128): v128 {
  return f32x4.sub(x, f32x4.floor(x));
}

/**
 * adjust_hue on the planes: torchvision's _rgb2hsv, h ← (h + shift) mod 1, _hsv2rgb, back to whole
 * grey levels (convert_image_dtype's ×(255 + 1 − 1e−3), truncated); every step in float32 as torch's.
 */
function hue(r: usize, g: usize, b: usize, n: i32, shift: f32): void {
  const k255 = f32x4.splat(255);
  const tiny = f32x4.splat(<f32>1e-6);
  const one = f32x4.splat(1);
  const two = f32x4.splat(2);
  const three = f32x4.splat(3);
  const four = f32x4.splat(4);
  const five = f32x4.splat(5);
  const six = f32x4.splat(6);
  const zero = f32x4.splat(0);
  const by = f32x4.splat(shift);
  const toByte = f32x4.splat(<f32>255.999);
  for (let i = 0; i < n; i += 4) {
    const o = (<usize>i) << 2;
    const cr = f32x4.div(v128.load(r + o), k255);
    const cg = f32x4.div(v128.load(g + o), k255);
    const cb = f32x4.div(v128.load(b + o), k255);
    const v = f32x4.pmax(f32x4.pmax(cr, cg), cb);
    const chroma = f32x4.sub(v, f32x4.pmin(f32x4.pmin(cr, cg), cb));
    // torch divides by 1 where the pixel is grey (chroma 0, so 0 either way): a floor below any
    // non-grey v or chroma (multiples of about 1/255) gives the same quotients.
    const s = f32x4.div(chroma, f32x4.pmax(v, tiny));
    const d = f32x4.pmax(chroma, tiny);
    const rc = f32x4.div(f32x4.sub(v, cr), d);
    const gc = f32x4.div(f32x4.sub(v, cg), d);
    const bc = f32x4.div(f32x4.sub(v, cb), d);
    // Exactly one of torch's three masked terms is non-zero, so picking it equals their sum.
    const sector = v128.bitselect(
      f32x4.sub(bc, gc),
      v128.bitselect(f32x4.sub(f32x4.add(two, rc), bc), f32x4.sub(f32x4.add(four, gc), rc), f32x4.eq(v, cg)),
      f32x4.eq(v, cr),
    );
    const turned = frac(f32x4.add(frac(f32x4.add(f32x4.div(sector, six), one)), by));
    // A hue that rounded up to 1 gives h·6 = 6: sextant 6 is sextant 0 with f = 0, as 0 itself.
    const h6raw = f32x4.mul(turned, six);
    const h6 = v128.bitselect(h6raw, zero, f32x4.lt(h6raw, six));
    const sextant = f32x4.floor(h6);
    const f = f32x4.sub(h6, sextant);
    // v, s and f are in [0, 1], so p, q and t are too: torch's clamp to [0, 1] never changes them.
    const p = f32x4.mul(v, f32x4.sub(one, s));
    const q = f32x4.mul(v, f32x4.sub(one, f32x4.mul(s, f)));
    const t = f32x4.mul(v, f32x4.sub(one, f32x4.mul(s, f32x4.sub(one, f))));
    const below1 = f32x4.lt(sextant, one);
    const below2 = f32x4.lt(sextant, two);
    const below3 = f32x4.lt(sextant, three);
    const below4 = f32x4.lt(sextant, four);
    const below5 = f32x4.lt(sextant, five);
    // Sextants 0..5 take (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q).
    const red = v128.bitselect(
      v,
      v128.bitselect(q, v128.bitselect(p, v128.bitselect(t, v, below5), below4), below2),
      below1,
    );
    const green = v128.bitselect(t, v128.bitselect(v, v128.bitselect(q, p, below4), below3), below1);
    const blue = v128.bitselect(p, v128.bitselect(t, v128.bitselect(v, q, below5), below3), below2);
    v128.store(r + o, f32x4.floor(f32x4.mul(red, toByte)));
    v128.store(g + o, f32x4.floor(f32x4.mul(green, toByte)));
    v128.store(b + o, f32x4.floor(f32x4.mul(blue, toByte)));
  }
}

/**
 * ColorJitter's adjustments in the drawn order, then ToTensor and Normalize: HWC bytes `src` [n·3] to
 * float32 CHW `out` [3·n]. `ops` holds `count` triples of f32 (kind, ratio or hue shift, 1 − ratio);
 * `planes` is f32 scratch for three planes of n rounded up to four. `mean` and `std` per channel, as
 * toCHW: (v/255 − mean)/std in float32.
 */
export function colour(
  src: usize,
  out: usize,
  n: i32,
  ops: usize,
  count: i32,
  planes: usize,
  mean0: f32,
  mean1: f32,
  mean2: f32,
  std0: f32,
  std1: f32,
  std2: f32,
): void {
  const stride = (<usize>((n + 3) & ~3)) << 2;
  const r = planes;
  const g = planes + stride;
  const b = planes + 2 * stride;
  // Four pixels' 12 bytes a load, of 16: the buffers have room past the image for the last one.
  const zero = i32x4.splat(0);
  for (let i = 0; i < n; i += 4) {
    const bytes = v128.load(src + <usize>(i * 3));
    const o = (<usize>i) << 2;
    store4(r + o, v128.shuffle<u8>(bytes, zero, 0, 16, 16, 16, 3, 16, 16, 16, 6, 16, 16, 16, 9, 16, 16, 16));
    store4(g + o, v128.shuffle<u8>(bytes, zero, 1, 16, 16, 16, 4, 16, 16, 16, 7, 16, 16, 16, 10, 16, 16, 16));
    store4(b + o, v128.shuffle<u8>(bytes, zero, 2, 16, 16, 16, 5, 16, 16, 16, 8, 16, 16, 16, 11, 16, 16, 16));
  }
  for (let k = 0; k < count; k++) {
    const op = ops + <usize>(k * 12);
    const kind = <i32>load<f32>(op);
    if (kind == HUE) hue(r, g, b, n, load<f32>(op, 4));
    else blend(r, g, b, n, kind, load<f32>(op, 4), load<f32>(op, 8));
  }
  normalise(r, out, n, mean0, std0);
  normalise(g, out + ((<usize>n) << 2), n, mean1, std1);
  normalise(b, out + ((<usize>(2 * n)) << 2), n, mean2, std2);
}

/** Four grey levels as i32 lanes, stored as float32. */
function store4(at: usize, levels: v128): void {
  v128.store(at, f32x4.convert_i32x4_s(levels));
}

function normalise(plane: usize, out: usize, n: i32, mean: f32, std: f32): void {
  const k255 = f32x4.splat(255);
  const m = f32x4.splat(mean);
  const s = f32x4.splat(std);
  const whole = n & ~3;
  for (let i = 0; i < whole; i += 4) {
    const o = (<usize>i) << 2;
    v128.store(out + o, f32x4.div(f32x4.sub(f32x4.div(v128.load(plane + o), k255), m), s));
  }
  for (let i = whole; i < n; i++) {
    const o = (<usize>i) << 2;
    store<f32>(out + o, (load<f32>(plane + o) / 255 - mean) / std);
  }
}
