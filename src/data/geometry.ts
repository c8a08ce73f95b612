import type { DecodedImage } from './image.js';

const f32 = Math.fround;

/** Mirrors the image left to right. */
export function hflip(img: DecodedImage): DecodedImage {
  const { rgb, width, height } = img;
  const out = new Uint8Array(rgb.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const from = row + (width - 1 - x) * 3;
      const to = row + x * 3;
      out[to] = rgb[from];
      out[to + 1] = rgb[from + 1];
      out[to + 2] = rgb[from + 2];
    }
  }
  return { ...img, rgb: out };
}

/**
 * torchvision's F.rotate on a tensor image with NEAREST interpolation, expand=False, centre = image
 * centre, fill 0: `degrees` counter-clockwise as displayed. Each output pixel centre, relative to the
 * image centre, goes through the inverse rotation (_get_inverse_affine_matrix(centre 0, −angle)), is
 * normalised to [−1, 1] as _gen_affine_grid does, and grid_sample(align_corners=False) picks the
 * nearest source pixel, rounding half to even; outside the image is black. float32 throughout, as torch.
 */
export function rotate(img: DecodedImage, degrees: number): DecodedImage {
  const { rgb, width: w, height: h } = img;
  const rad = (degrees * Math.PI) / 180;
  const [cos, sin] = [f32(Math.cos(rad)), f32(Math.sin(rad))];
  // The inverse matrix [cos, −sin, 0; sin, cos, 0] divided by the half sizes (rescaled_theta).
  const [ax, bx] = [f32(cos / (0.5 * w)), f32(-sin / (0.5 * w))];
  const [ay, by] = [f32(sin / (0.5 * h)), f32(cos / (0.5 * h))];
  const [halfW, halfH] = [f32(w / 2), f32(h / 2)];
  const out = new Uint8Array(rgb.length);
  for (let oy = 0; oy < h; oy++) {
    const y = oy - h * 0.5 + 0.5;
    for (let ox = 0; ox < w; ox++) {
      const x = ox - w * 0.5 + 0.5;
      const gx = f32(f32(x * ax) + f32(y * bx));
      const gy = f32(f32(x * ay) + f32(y * by));
      // grid_sample's unnormalize for align_corners=False: (g + 1)·size/2 − 0.5.
      const sx = roundHalfEven(f32(f32(f32(gx + 1) * halfW) - 0.5));
      const sy = roundHalfEven(f32(f32(f32(gy + 1) * halfH) - 0.5));
      if (sx < 0 || sx >= w || sy < 0 || sy >= h) continue;
      const from = (sy * w + sx) * 3;
      const to = (oy * w + ox) * 3;
      out[to] = rgb[from];
      out[to + 1] = rgb[from + 1];
      out[to + 2] = rgb[from + 2];
    }
  }
  return { ...img, rgb: out };
}

/** Rounds to the nearest integer, ties to even (nearbyint, as torch's round). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
