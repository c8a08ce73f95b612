import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import type { Explanation } from '../../src/eval/grad-cam.js';
import { jet } from '../../src/eval/jet.js';
import { heatmapPng, overlayPng } from '../../src/report/heatmap.js';

/** An explanation of a [h,w] map given by a function of the pixel position. */
function explanation(h: number, w: number, heat: (x: number, y: number) => number): Explanation {
  const heatmap = Float32Array.from({ length: h * w }, (_, i) => heat(i % w, Math.floor(i / w)));
  return { label: 'smoking', probability: 0.9, threshold: 0.5, heatmap, size: [h, w] };
}

async function pixels(png: Buffer) {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const at = (x: number, y: number) => [
    ...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3),
  ];
  return { data, width: info.width, height: info.height, at };
}

const close = (a: number[], b: number[], tol = 2) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

test('jet runs dark blue -> green -> dark red and clamps', () => {
  assert.deepEqual(jet(0), [0, 0, 128]);
  assert.deepEqual(jet(1), [128, 0, 0]);
  const [r0, g0, b0] = jet(0);
  assert.ok(b0 > r0 && b0 > g0, `jet(0) = ${jet(0)} is blue`);
  const [r5, g5, b5] = jet(0.5);
  assert.ok(g5 > 200 && g5 > r5 && g5 > b5, `jet(0.5) = ${jet(0.5)} is green`);
  const [r1, g1, b1] = jet(1);
  assert.ok(r1 > 100 && r1 > 5 * g1 && r1 > 5 * b1, `jet(1) = ${jet(1)} is red`);
  assert.deepEqual(jet(-3), jet(0));
  assert.deepEqual(jet(7), jet(1));
  assert.deepEqual(jet(NaN), jet(0));
});

test('heatmapPng colours the map at the model input size', async () => {
  const e = explanation(20, 30, (x) => x / 29);
  const png = await heatmapPng(e);
  const { width, height, at } = await pixels(png);
  assert.deepEqual([width, height], [30, 20]);
  assert.ok(close(at(0, 7), jet(0)));
  assert.ok(close(at(29, 7), jet(1)));
  assert.ok(close(at(15, 19), jet(15 / 29)));
  await assert.rejects(heatmapPng({ ...e, size: [10, 10] }), /600 values is not the 10x10/);
});

/** A 20x10 picture: left half red, right half blue. */
const picture = () => {
  const px = Buffer.alloc(20 * 10 * 3);
  for (let i = 0; i < 200; i++) px.set(i % 20 < 10 ? [220, 30, 30] : [30, 30, 220], i * 3);
  return sharp(px, { raw: { width: 20, height: 10, channels: 3 } });
};

test('overlayPng: original size, alpha 0 is the image itself and alpha 1 the colour-mapped heat', async () => {
  const png = await picture().png().toBuffer();
  // Hot in the top half of an 8x8 model-size map.
  const e = explanation(8, 8, (_x, y) => (y < 4 ? 1 : 0));
  const image = await pixels(await overlayPng(png, e, 0));
  assert.deepEqual([image.width, image.height], [20, 10]);
  const original = await pixels(png);
  assert.ok(image.data.equals(original.data), 'decoding at its own size leaves the pixels alone');

  const heat = await pixels(await overlayPng(png, e, 1));
  assert.ok(close(heat.at(3, 0), jet(1)) && close(heat.at(17, 1), jet(1)));
  assert.ok(close(heat.at(3, 9), jet(0)) && close(heat.at(17, 8), jet(0)));

  const half = await pixels(await overlayPng(png, e)); // alpha 0.5 by default
  const mix = [0, 1, 2].map((c) => Math.round(0.5 * original.at(3, 0)[c] + 0.5 * jet(1)[c]));
  assert.ok(close(half.at(3, 0), mix, 1), `${half.at(3, 0)} vs ${mix}`);

  await assert.rejects(overlayPng(png, e, 1.5), /alpha 1.5 is not in \[0, 1\]/);
  await assert.rejects(overlayPng(Buffer.from('not an image'), e), /image buffer: not an image/);
  await assert.rejects(
    overlayPng('/no/such/file.jpg', e),
    /\/no\/such\/file.jpg: cannot read file \(ENOENT\)/,
  );
});

test('overlayPng follows EXIF orientation as the model saw the image', async () => {
  // Stored 20 wide x 10 tall, orientation 6: displayed 10 wide x 20 tall with the red half on top.
  const jpg = await picture().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  const e = explanation(8, 8, (_x, y) => (y < 4 ? 1 : 0));
  const out = await pixels(await overlayPng(jpg, e, 0));
  assert.deepEqual([out.width, out.height], [10, 20]);
  const [r, , b] = out.at(5, 2);
  assert.ok(r > 150 && b < 100, `top is red: ${out.at(5, 2)}`);
  const heat = await pixels(await overlayPng(jpg, e, 1));
  assert.ok(close(heat.at(5, 1), jet(1)) && close(heat.at(5, 18), jet(0)));
});

test('overlayPng reads uncompressed BMP, which sharp cannot', async () => {
  // 4x2, 24-bit, bottom-up rows padded to 4 bytes: top row white, bottom row black.
  const [w, h] = [4, 2];
  const stride = Math.ceil((w * 3) / 4) * 4;
  const bmp = Buffer.alloc(54 + stride * h);
  bmp.write('BM', 0, 'ascii');
  bmp.writeUInt32LE(bmp.length, 2);
  bmp.writeUInt32LE(54, 10);
  bmp.writeUInt32LE(40, 14);
  bmp.writeInt32LE(w, 18);
  bmp.writeInt32LE(h, 22);
  bmp.writeUInt16LE(1, 26);
  bmp.writeUInt16LE(24, 28);
  bmp.fill(255, 54 + stride, 54 + stride + w * 3); // the second stored row is the top one
  const out = await pixels(
    await overlayPng(
      bmp,
      explanation(2, 2, () => 0),
      0,
    ),
  );
  assert.deepEqual([out.width, out.height], [4, 2]);
  assert.deepEqual(out.at(1, 0), [255, 255, 255]);
  assert.deepEqual(out.at(1, 1), [0, 0, 0]);
});
