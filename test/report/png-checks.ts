import assert from 'node:assert/strict';
import sharp from 'sharp';

/** Asserts `png` decodes as a PNG of the given size that is not one flat colour. */
export async function assertPlotPng(png: Buffer, width: number, height: number): Promise<void> {
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.deepEqual([meta.width, meta.height], [width, height]);
  const { channels } = await sharp(png).stats();
  assert.ok(channels[0].stdev > 10, `looks blank: red channel stdev ${channels[0].stdev}`);
}

/** How many pixels are within `tol` of the colour `hex` in every channel. */
export async function countColour(png: Buffer, hex: string, tol = 24): Promise<number> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const want = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let n = 0;
  for (let p = 0; p < data.length; p += info.channels)
    if (want.every((c, k) => Math.abs(data[p + k] - c) <= tol)) n++;
  return n;
}
