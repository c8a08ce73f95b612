/**
 * Photos to model input in the browser (page or worker): the browser's own decoder, then the whole
 * image resized to the model's [height, width] (no crop, aspect not kept) with PIL's BILINEAR filter,
 * which the server's sharp 'linear' reduce also follows, so both give nearly the same pixels (they
 * differ where the decoders do: a level or two). Bundled into /lib/pixels.js for the page.
 */
import { emptyImage, notAnImage, tooLarge } from '../data/image-error.js';
import type { DecodedImage } from '../data/image.js';

export { toCHW } from '../data/to-chw.js';

/** Filter taps of the antialiased bilinear resize: a triangle widened by the shrink factor, centre sampled. */
function taps(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1);
  const k = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weight = new Float32Array(outSize * k);
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    let sum = 0;
    for (let i = lo; i < hi; i++) {
      const t = Math.abs((i - centre + 0.5) / support);
      const v = t < 1 ? 1 - t : 0;
      weight[o * k + i - lo] = v;
      sum += v;
    }
    for (let i = 0; i < hi - lo; i++) weight[o * k + i] /= sum || 1;
    start[o] = lo;
    count[o] = hi - lo;
  }
  return { start, count, weight, k };
}

/**
 * RGBA [h][w] -> RGB [outH][outW]: alpha flattened onto black, then a separable resize, horizontal
 * pass first with 8-bit rounding in between, as PIL does.
 */
export function resizeRgb(
  rgba: Uint8ClampedArray,
  w: number,
  h: number,
  outW: number,
  outH: number,
): Uint8Array {
  const tx = taps(w, outW);
  const ty = taps(h, outH);
  const mid = new Uint8ClampedArray(outW * h * 3);
  for (let y = 0; y < h; y++) {
    const row = y * w * 4;
    for (let o = 0; o < outW; o++) {
      let r = 0;
      let g = 0;
      let b = 0;
      const base = o * tx.k;
      for (let i = 0; i < tx.count[o]; i++) {
        const p = row + (tx.start[o] + i) * 4;
        const wgt = (tx.weight[base + i] * rgba[p + 3]) / 255;
        r += wgt * rgba[p];
        g += wgt * rgba[p + 1];
        b += wgt * rgba[p + 2];
      }
      const q = (y * outW + o) * 3;
      mid[q] = Math.round(r);
      mid[q + 1] = Math.round(g);
      mid[q + 2] = Math.round(b);
    }
  }
  const out = new Uint8Array(outW * outH * 3);
  for (let o = 0; o < outH; o++) {
    const base = o * ty.k;
    for (let x = 0; x < outW; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let i = 0; i < ty.count[o]; i++) {
        const p = ((ty.start[o] + i) * outW + x) * 3;
        const wgt = ty.weight[base + i];
        r += wgt * mid[p];
        g += wgt * mid[p + 1];
        b += wgt * mid[p + 2];
      }
      const q = (o * outW + x) * 3;
      out[q] = Math.min(255, Math.max(0, Math.round(r)));
      out[q + 1] = Math.min(255, Math.max(0, Math.round(g)));
      out[q + 2] = Math.min(255, Math.max(0, Math.round(b)));
    }
  }
  return out;
}

/**
 * Decodes a photo (EXIF orientation applied) to RGBA. Refuses, in the CLI's words, an empty file, one no
 * decoder of this browser reads, and one over `maxPixels`.
 */
export async function decodeRgba(
  blob: Blob,
  where: string,
  maxPixels: number,
): Promise<{ rgba: Uint8ClampedArray; width: number; height: number }> {
  if (blob.size === 0) throw emptyImage(where);
  const bitmap = await createImageBitmap(blob, {
    imageOrientation: 'from-image',
    premultiplyAlpha: 'none',
  }).catch(() => {
    throw notAnImage(where);
  });
  const { width, height } = bitmap;
  if (width * height > maxPixels) {
    bitmap.close();
    throw tooLarge(where, width, height, maxPixels);
  }
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { rgba: ctx.getImageData(0, 0, width, height).data, width, height };
}

/** decodeRgba, then the whole image resized to `size` = [height, width]. */
export async function decodeResized(
  blob: Blob,
  size: readonly [number, number],
  where: string,
  maxPixels: number,
): Promise<DecodedImage> {
  const { rgba, width, height } = await decodeRgba(blob, where, maxPixels);
  return { rgb: resizeRgb(rgba, width, height, size[1], size[0]), height: size[0], width: size[1] };
}
