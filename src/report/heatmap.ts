import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { decodeResized, imageHeader } from '../data/image.js';
import { bilinearTaps } from '../data/resample.js';
import type { Explanation } from '../eval/grad-cam.js';
import { jet } from '../eval/jet.js';

/** The colour map sampled at 256 levels: heat v in [0,1] maps to entry round(255·v). */
const LUT: Uint8Array = (() => {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(jet(i / 255), i * 3);
  return lut;
})();

const level = (v: number) => (v > 0 ? (v < 1 ? Math.round(v * 255) : 255) : 0) * 3;

function checkExplanation(e: Explanation): void {
  const [h, w] = e.size;
  if (e.heatmap.length !== h * w)
    throw new Error(`heatmap: ${e.heatmap.length} values is not the ${h}x${w} of the explanation's size`);
}

/** The map alone, colour-mapped with jet, as a PNG at the model input size. */
export async function heatmapPng(e: Explanation): Promise<Buffer> {
  checkExplanation(e);
  const [h, w] = e.size;
  const rgb = Buffer.alloc(h * w * 3);
  for (let i = 0; i < h * w; i++) {
    const at = level(e.heatmap[i]);
    rgb[i * 3] = LUT[at];
    rgb[i * 3 + 1] = LUT[at + 1];
    rgb[i * 3 + 2] = LUT[at + 2];
  }
  return sharp(rgb, { raw: { width: w, height: h, channels: 3 } })
    .png()
    .toBuffer();
}

/**
 * The map over the original image, as a PNG at the image's own size (EXIF-rotated as the model saw it):
 * the map, bilinearly stretched from the model input size back over the whole image (the model saw it
 * resized without crop), colour-mapped and blended as (1 − alpha)·image + alpha·colour.
 */
export async function overlayPng(image: string | Buffer, e: Explanation, alpha = 0.5): Promise<Buffer> {
  checkExplanation(e);
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`overlay: alpha ${alpha} is not in [0, 1]`);
  const where = typeof image === 'string' ? image : 'image buffer';
  let bytes: Buffer;
  try {
    bytes = typeof image === 'string' ? await readFile(image) : image;
  } catch (err) {
    throw new Error(
      `${where}: cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  const header = await imageHeader(bytes, where);
  if (!header) {
    await decodeResized(bytes, [1, 1], where); // for its one-line reason
    throw new Error(`${where}: cannot read the image size`);
  }
  // Decoding at its own size is no resize: the same pixels the model's resize started from.
  const { rgb, width, height } = await decodeResized(bytes, [header.height, header.width], where);
  const [sh, sw] = e.size;
  const ys = bilinearTaps(sh, height);
  const xs = bilinearTaps(sw, width);
  const map = e.heatmap;
  const out = Buffer.alloc(width * height * 3);
  const keep = 1 - alpha;
  for (let y = 0; y < height; y++) {
    const [r0, r1, ty] = [ys.lo[y] * sw, ys.hi[y] * sw, ys.t[y]];
    for (let x = 0; x < width; x++) {
      const [x0, x1, tx] = [xs.lo[x], xs.hi[x], xs.t[x]];
      const top = map[r0 + x0] + (map[r0 + x1] - map[r0 + x0]) * tx;
      const bottom = map[r1 + x0] + (map[r1 + x1] - map[r1 + x0]) * tx;
      const at = level(top + (bottom - top) * ty);
      const p = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) out[p + c] = Math.round(keep * rgb[p + c] + alpha * LUT[at + c]);
    }
  }
  return sharp(out, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}
