import type { DecodedImage } from './image.js';

/*
 * torchvision's colour adjustments for uint8 tensor images (transforms/_functional_tensor.py), on HWC
 * RGB bytes. torch computes them in float32 and casts back to uint8 by truncation, so every operation
 * here is rounded to float32 (Math.fround) in torch's order, and the results match bit for bit.
 * Writing a float into a Uint8Array truncates it, which is torch's cast for values in [0, 256).
 */

const f32 = Math.fround;
const LUMA = [f32(0.2989), f32(0.587), f32(0.114)];
/** convert_image_dtype(float → uint8) scales by 255 + 1 − 1e-3 and truncates. */
const TO_UINT8 = f32(255.999);

/** rgb_to_grayscale: 0.2989 R + 0.587 G + 0.114 B in float32, truncated to uint8 (one value per pixel). */
export function grayscale(img: DecodedImage): Uint8Array {
  const { rgb } = img;
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) {
    out[i] = f32(f32(f32(LUMA[0] * rgb[j]) + f32(LUMA[1] * rgb[j + 1])) + f32(LUMA[2] * rgb[j + 2]));
  }
  return out;
}

/**
 * _blend: ratio·img + (1 − ratio)·other, clamped to [0, 255], truncated. `other` is one value for the
 * whole image, or one grey value per pixel.
 */
function blend(img: DecodedImage, ratio: number, other: number | Uint8Array): DecodedImage {
  const [r, s] = [f32(ratio), f32(1 - ratio)];
  const { rgb } = img;
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) {
    const o = typeof other === 'number' ? other : other[(i / 3) | 0];
    out[i] = Math.min(255, Math.max(0, f32(f32(r * rgb[i]) + f32(s * o))));
  }
  return { ...img, rgb: out };
}

/** adjust_brightness: blend with black. */
export function adjustBrightness(img: DecodedImage, factor: number): DecodedImage {
  return blend(img, factor, 0);
}

/** adjust_contrast: blend with the mean of the (truncated) grayscale image. */
export function adjustContrast(img: DecodedImage, factor: number): DecodedImage {
  const gray = grayscale(img);
  let sum = 0;
  for (let i = 0; i < gray.length; i++) sum += gray[i];
  // The sum is exact (integers below 2^53), so one rounding matches torch's float32 mean.
  return blend(img, factor, f32(sum / gray.length));
}

/** adjust_saturation: blend with the grayscale image. */
export function adjustSaturation(img: DecodedImage, factor: number): DecodedImage {
  return blend(img, factor, grayscale(img));
}

/** adjust_hue: RGB → HSV (torchvision's _rgb2hsv), h ← (h + factor) mod 1, HSV → RGB (_hsv2rgb). */
export function adjustHue(img: DecodedImage, factor: number): DecodedImage {
  if (!(factor >= -0.5 && factor <= 0.5))
    throw new Error(`adjustHue: factor ${factor} is not in [-0.5, 0.5]`);
  const shift = f32(factor);
  const { rgb } = img;
  const out = new Uint8Array(rgb.length);
  for (let j = 0; j < rgb.length; j += 3) shiftHue(rgb, out, j, shift);
  return { ...img, rgb: out };
}

/** One pixel of adjust_hue, inlined into scalars: it runs 50 000 times per image. */
function shiftHue(rgb: Uint8Array, out: Uint8Array, at: number, shift: number): void {
  // _rgb2hsv
  const r = f32(rgb[at] / 255);
  const g = f32(rgb[at + 1] / 255);
  const b = f32(rgb[at + 2] / 255);
  const v = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  const eqc = v === minc;
  const cr = f32(v - minc);
  const s = f32(cr / (eqc ? 1 : v));
  const d = eqc ? 1 : cr;
  const rc = f32(f32(v - r) / d);
  const gc = f32(f32(v - g) / d);
  const bc = f32(f32(v - b) / d);
  const hr = v === r ? f32(bc - gc) : 0;
  const hg = v === g && v !== r ? f32(f32(2 + rc) - bc) : 0;
  const hb = v !== g && v !== r ? f32(f32(4 + gc) - rc) : 0;
  const h0 = f32(f32(f32(f32(hr + hg) + hb) / 6) + 1) % 1;
  // (h + factor) % 1.0 is torch.remainder: fmod, then moved into [0, 1)
  let h = f32(h0 + shift) % 1;
  if (h < 0) h = f32(h + 1);
  // _hsv2rgb
  const h6 = f32(h * 6);
  const i = Math.floor(h6);
  const f = f32(h6 - i);
  const p = clamp01(f32(v * f32(1 - s)));
  const q = clamp01(f32(v * f32(1 - f32(s * f))));
  const t = clamp01(f32(v * f32(1 - f32(s * f32(1 - f)))));
  switch (i % 6) {
    case 0:
      return put(out, at, v, t, p);
    case 1:
      return put(out, at, q, v, p);
    case 2:
      return put(out, at, p, v, t);
    case 3:
      return put(out, at, p, q, v);
    case 4:
      return put(out, at, t, p, v);
    default:
      return put(out, at, v, p, q);
  }
}

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/** convert_image_dtype(float32 → uint8) of one pixel. */
function put(out: Uint8Array, at: number, r: number, g: number, b: number): void {
  out[at] = f32(r * TO_UINT8);
  out[at + 1] = f32(g * TO_UINT8);
  out[at + 2] = f32(b * TO_UINT8);
}
