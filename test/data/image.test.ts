import { pngHeaderClaiming } from '../helpers/png-header.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';

const dir = mkdtempSync(join(tmpdir(), 'smoker-image-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const raw = (
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  px: (x: number, y: number, c: number) => number,
) => {
  const b = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) b[(y * width + x) * channels + c] = px(x, y, c);
  return sharp(b, { raw: { width, height, channels } });
};
const write = (name: string, bytes: Buffer | string) => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};
const maxDiff = (a: Uint8Array, b: ArrayLike<number>) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('JPEG and PNG files decode to the requested [h,w] as 3-channel sRGB', async () => {
  const colour = [200, 60, 30];
  const jpg = write(
    'a.jpg',
    await raw(300, 200, 3, (_x, _y, c) => colour[c])
      .jpeg({ quality: 95 })
      .toBuffer(),
  );
  const png = write(
    'a.png',
    await raw(40, 50, 3, (_x, _y, c) => colour[c])
      .png()
      .toBuffer(),
  );
  for (const [path, tol] of [
    [jpg, 3],
    [png, 0],
  ] as const) {
    const img = await decodeResized(path, [32, 48]);
    assert.deepEqual([img.height, img.width, img.rgb.length], [32, 48, 32 * 48 * 3]);
    assert.ok(
      maxDiff(
        img.rgb,
        Array.from({ length: img.rgb.length }, (_, i) => colour[i % 3]),
      ) <= tol,
      path,
    );
  }
  // A buffer works too.
  const fromBuffer = await decodeResized(
    await raw(8, 8, 3, () => 9)
      .png()
      .toBuffer(),
    [4, 4],
  );
  assert.deepEqual([...fromBuffer.rgb], new Array(48).fill(9));
});

test('alpha, greyscale, 16-bit and CMYK inputs all come out as 3-channel sRGB', async () => {
  const rgba = await raw(10, 10, 4, (_x, _y, c) => (c === 3 ? 255 : 100))
    .png()
    .toBuffer();
  const grey = await raw(10, 10, 1, () => 77)
    .png()
    .toBuffer();
  const grey16 = await raw(10, 10, 1, () => 77)
    .toColourspace('grey16')
    .png()
    .toBuffer();
  const cmyk = await raw(10, 10, 3, (_x, _y, c) => [20, 120, 220][c])
    .toColourspace('cmyk')
    .jpeg()
    .toBuffer();
  assert.deepEqual([...(await decodeResized(rgba, [5, 5])).rgb], new Array(75).fill(100));
  assert.deepEqual([...(await decodeResized(grey, [5, 5])).rgb], new Array(75).fill(77));
  assert.ok(maxDiff((await decodeResized(grey16, [5, 5])).rgb, new Array(75).fill(77)) <= 1);
  const c = (await decodeResized(cmyk, [5, 5])).rgb;
  assert.equal(c.length, 75);
  assert.ok(c[0] < c[1] && c[1] < c[2], `CMYK round trip keeps the colour's order: ${[...c.subarray(0, 3)]}`);
});

test('EXIF orientation is applied before resizing', async () => {
  // 20 wide x 10 tall, left half red; orientation 6 means "rotate 90° clockwise to display".
  const jpg = await raw(20, 10, 3, (x, _y, c) => (c === 0 && x < 10 ? 255 : 0))
    .jpeg({ quality: 100 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const img = await decodeResized(jpg, [20, 10]);
  const red = (x: number, y: number) => img.rgb[(y * 10 + x) * 3];
  assert.ok(red(5, 2) > 200 && red(5, 17) < 50, 'the red half is on top once upright');
});

/** PIL's ImagingResample with the BILINEAR filter (support 1, widened by the shrink), uint8 between passes. */
function pilBilinear(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  const taps = (inSize: number, outSize: number) =>
    Array.from({ length: outSize }, (_, o) => {
      const scale = inSize / outSize;
      const support = Math.max(scale, 1);
      const centre = (o + 0.5) * scale;
      const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
      const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
      const ws = Array.from({ length: hi - lo }, (_, i) =>
        Math.max(0, 1 - Math.abs((lo + i - centre + 0.5) / support)),
      );
      const sum = ws.reduce((a, b) => a + b, 0);
      return { lo, ws: ws.map((v) => v / sum) };
    });
  const pass = (
    inp: Uint8Array,
    count: number,
    outLen: number,
    t: ReturnType<typeof taps>,
    at: (j: number, k: number) => number,
    to: (j: number, o: number) => number,
  ) => {
    const out = new Uint8Array(outLen);
    for (let j = 0; j < count; j++)
      t.forEach(({ lo, ws }, o) => {
        for (let c = 0; c < 3; c++) {
          const v = ws.reduce((s, wt, i) => s + wt * inp[at(j, lo + i) * 3 + c], 0);
          out[to(j, o) * 3 + c] = Math.min(255, Math.max(0, Math.round(v)));
        }
      });
    return out;
  };
  const rows = pass(
    src,
    h,
    ow * h * 3,
    taps(w, ow),
    (y, x) => y * w + x,
    (y, x) => y * ow + x,
  );
  return pass(
    rows,
    ow,
    ow * oh * 3,
    taps(h, oh),
    (x, y) => y * ow + x,
    (x, y) => y * ow + x,
  );
}

test("the resize is bilinear like PIL's (torchvision's Resize) within 2 levels on the dataset's 250x250", async () => {
  const px = (x: number, y: number, c: number) =>
    Math.round(127.5 + 127 * Math.sin(x * 0.07 * (c + 1) + y * 0.05) * Math.cos(y * 0.11 - x * 0.02 * c));
  const src = Uint8Array.from({ length: 250 * 250 * 3 }, (_, i) =>
    px(Math.floor(i / 3) % 250, Math.floor(i / 750), i % 3),
  );
  const png = await raw(250, 250, 3, px).png().toBuffer();
  const ours = await decodeResized(png, [224, 224]);
  assert.ok(maxDiff(ours.rgb, pilBilinear(src, 250, 250, 224, 224)) <= 2);
});

/** A Windows BMP with a 40-byte header: 24-bit bottom-up, or 32-bit BGRX top-down. */
function bmp(
  width: number,
  height: number,
  bpp: 24 | 32,
  px: (x: number, y: number) => number[],
  topDown = false,
) {
  const stride = Math.ceil((width * bpp) / 32) * 4;
  const b = Buffer.alloc(54 + stride * height);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(topDown ? -height : height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(bpp, 28);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, bl] = px(x, y);
      const at = 54 + stride * (topDown ? y : height - 1 - y) + (x * bpp) / 8;
      b[at] = bl;
      b[at + 1] = g;
      b[at + 2] = r;
    }
  return b;
}

test('uncompressed 24- and 32-bit BMPs decode pixel-exactly (sharp cannot read BMP)', async () => {
  const px = (x: number, y: number) => [x * 40, y * 50, 255 - x - y];
  const want = Array.from({ length: 4 * 5 }, (_, i) => px(i % 5, Math.floor(i / 5))).flat();
  for (const [bpp, topDown] of [
    [24, false],
    [32, true],
  ] as const) {
    const path = write(`p${bpp}.bmp`, bmp(5, 4, bpp, px, topDown));
    assert.deepEqual([...(await decodeResized(path, [4, 5])).rgb], want, `${bpp}-bit`);
  }
  const palette = bmp(5, 4, 24, px);
  palette.writeUInt16LE(8, 28);
  const path = write('palette.bmp', palette);
  await assert.rejects(decodeResized(path, [4, 5]), {
    message: `${path}: cannot decode image (unsupported BMP variant (8-bit, compression 0); convert it to PNG or JPEG)`,
  });
});

test('broken, empty, non-image and oversized files are rejected in one line naming the file', async () => {
  const jpg = await raw(64, 64, 3, (x, y) => (x * y) & 255)
    .jpeg()
    .toBuffer();
  const cases: [string, RegExp][] = [
    [write('truncated.jpg', jpg.subarray(0, jpg.length >> 1)), /: truncated or corrupt image \(/],
    [write('empty.jpg', ''), /: empty file, not an image$/],
    [write('notes.txt', 'this is not an image\n'), /: not an image, or a format that cannot be read$/],
    [
      write('huge.png', pngHeaderClaiming(20000, 20000)),
      /: image too large \(20000x20000, over 50 megapixels\)$/,
    ],
    [
      write('truncated.bmp', bmp(50, 50, 24, () => [1, 2, 3]).subarray(0, 2000)),
      /: truncated or corrupt image \(truncated BMP pixel data\)$/,
    ],
    [join(dir, 'missing.png'), /: cannot read file \(ENOENT\)$/],
  ];
  for (const [path, reason] of cases) {
    await assert.rejects(decodeResized(path, [8, 8]), (e: Error) => {
      assert.ok(e.message.startsWith(`${path}: `), e.message);
      assert.match(e.message, reason);
      assert.ok(!e.message.includes('\n'), e.message);
      return true;
    });
  }
});

test('toCHW normalises HWC bytes to planar (x/255 − mean)/std', () => {
  // 1x2 image: pixels (0, 255, 51) and (255, 0, 102).
  const rgb = Uint8Array.from([0, 255, 51, 255, 0, 102]);
  const p = {
    size: [1, 2] as [number, number],
    mean: [0.5, 0.25, 0] as [number, number, number],
    std: [0.5, 0.25, 0.2] as [number, number, number],
  };
  const want = [-1, 1, 3, -1, 1, 2];
  assert.deepEqual(
    [...toCHW(rgb, [1, 2], p)].map((v) => Math.round(v * 1e5) / 1e5),
    want,
  );
  assert.throws(() => toCHW(rgb, [2, 2], p), { message: 'toCHW: 6 bytes is not a 2x2 RGB image' });
});
