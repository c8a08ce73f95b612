import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type AugmentConfig,
  type AugmentDraw,
  checkAugmentConfig,
  drawAugment,
  type JitterParams,
  sampleJitter,
  SEED_AUGMENT,
} from '../../src/data/augment.js';
import { augmentKernelModule } from '../../src/data/augment-kernel-file.js';
import { Augmenter } from '../../src/data/augmenter.js';
import type { DecodedImage } from '../../src/data/image.js';
import type { CropBox } from '../../src/data/resized-crop.js';
import { toCHW } from '../../src/data/to-chw.js';
import { IMAGENET_PREPROCESS } from '../../src/models/backbone.js';
import { Rng } from '../../src/random/rng.js';

const image = (
  width: number,
  height: number,
  px: (x: number, y: number, c: number) => number,
): DecodedImage => ({
  width,
  height,
  rgb: Uint8Array.from({ length: width * height * 3 }, (_, i) =>
    px(Math.floor(i / 3) % width, Math.floor(i / 3 / width), i % 3),
  ),
});
const pixels = (...colours: number[][]) => image(colours.length, 1, (x, _y, c) => colours[x][c]);
const at = (img: DecodedImage, x: number, y: number) => [
  ...img.rgb.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];
/** Distinct colours per pixel, so every move is visible. */
const numbered = (w: number, h: number) => image(w, h, (x, y, c) => (y * w + x) * 3 + c + 1);
const noise = (w: number, h: number, seed: number) => {
  const rng = new Rng(seed);
  return image(w, h, () => rng.int(256));
};

const OFF: AugmentConfig = {
  hflip: 0,
  rotate: 0,
  jitter: { brightness: 0, contrast: 0, saturation: 0, hue: 0 },
};
const augmenters = new Map<string, Promise<Augmenter>>();
const preprocessOf = (h: number, w: number) => ({ ...IMAGENET_PREPROCESS, size: [h, w] as [number, number] });

/**
 * Runs the augmenter (the compiled WebAssembly kernel) on images of one size and turns its normalised
 * output back into bytes through toCHW's table, which also checks that every value is one toCHW gives.
 */
async function augment(
  images: DecodedImage[],
  cfg: AugmentConfig | undefined,
  draws?: AugmentDraw[],
): Promise<Uint8Array[]> {
  const { height: h, width: w } = images[0];
  const key = JSON.stringify([h, w, cfg]);
  if (!augmenters.has(key))
    augmenters.set(
      key,
      augmentKernelModule().then((k) => Augmenter.open(k, preprocessOf(h, w), cfg)),
    );
  const augmenter = await augmenters.get(key)!;
  const out = (
    await augmenter.run(
      images.map((i) => i.rgb),
      draws,
    )
  ).data;
  const levels = toCHW(
    Uint8Array.from({ length: 768 }, (_, i) => Math.floor(i / 3)),
    [1, 256],
    IMAGENET_PREPROCESS,
  );
  const byte = [0, 1, 2].map(
    (c) => new Map([...levels.subarray(256 * c, 256 * c + 256)].map((v, i) => [v, i])),
  );
  const plane = h * w;
  return images.map((_, n) => {
    const rgb = new Uint8Array(plane * 3);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < plane; i++) {
        const v = byte[c].get(out[(n * 3 + c) * plane + i]);
        assert.ok(v !== undefined, `output ${out[(n * 3 + c) * plane + i]} is no normalised byte`);
        rgb[i * 3 + c] = v;
      }
    return rgb;
  });
}

const one = async (img: DecodedImage, cfg: AugmentConfig | undefined, draw?: AugmentDraw) => ({
  ...img,
  rgb: (await augment([img], cfg, draw && [draw]))[0],
});
const rotate = (img: DecodedImage, degrees: number) =>
  one(img, { ...OFF, rotate: 180 }, { flip: false, degrees });
const hflip = (img: DecodedImage) => one(img, { ...OFF, hflip: 1 }, { flip: true, degrees: 0 });
type Adjustment = 'brightness' | 'contrast' | 'saturation' | 'hue';
const ORDER: Adjustment[] = ['brightness', 'contrast', 'saturation', 'hue'];
/** One colour adjustment alone. */
const adjust = (kind: Adjustment) => (img: DecodedImage, factor: number) =>
  one(
    img,
    { ...OFF, jitter: { ...OFF.jitter, [kind]: kind === 'hue' ? 0.5 : 1 } },
    { flip: false, degrees: 0, jitter: { order: [0, 1, 2, 3], [kind]: factor } },
  );
const [adjustBrightness, adjustContrast, adjustSaturation, adjustHue] = ORDER.map(adjust);

test('normalisation alone is toCHW, float32 as torchvision: every byte value of every channel', async () => {
  const img = image(256, 2, (x, y, c) => (y === 0 ? x : 255 - x) ^ (c * 85));
  assert.deepEqual((await augment([img], undefined))[0], img.rgb);
  const augmenter = await Augmenter.open(await augmentKernelModule(), preprocessOf(2, 256));
  const out = await augmenter.run([img.rgb]);
  assert.deepEqual(out.data, toCHW(img.rgb, [2, 256], IMAGENET_PREPROCESS));
  // torchvision's ToTensor + Normalize of 255 in channel 0, in float32: (1 − 0.485)/0.229.
  const f = Math.fround;
  assert.equal(
    toCHW(Uint8Array.of(255, 0, 0), [1, 1], IMAGENET_PREPROCESS)[0],
    f(f(1 - f(0.485)) / f(0.229)),
  );
  await augmenter.release();
});

test('hflip mirrors each row', async () => {
  const img = numbered(3, 2);
  const out = await hflip(img);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) assert.deepEqual(at(out, x, y), at(img, 2 - x, y));
});

test('rotate by ±90° and 180° moves pixels exactly where torchvision puts them', async () => {
  for (const n of [4, 5]) {
    const img = numbered(n, n);
    const [ccw, cw, half] = [await rotate(img, 90), await rotate(img, -90), await rotate(img, 180)];
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        // Positive angles turn counter-clockwise on screen: the top-right pixel lands top-left.
        assert.deepEqual(at(ccw, x, y), at(img, n - 1 - y, x), `90° ${n}x${n} (${x},${y})`);
        assert.deepEqual(at(cw, x, y), at(img, y, n - 1 - x), `-90° ${n}x${n} (${x},${y})`);
        assert.deepEqual(at(half, x, y), at(img, n - 1 - x, n - 1 - y), `180° ${n}x${n} (${x},${y})`);
      }
  }
  // Not square, expand=False: a 6x4 turned 90° about its centre keeps 4 columns and blacks out 1 on each side.
  const img = numbered(6, 4);
  const out = await rotate(img, 90);
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 6; x++) {
      assert.deepEqual(
        at(out, x, y),
        x >= 1 && x <= 4 ? at(img, 4 - y, x - 1) : [0, 0, 0],
        `6x4 (${x},${y})`,
      );
    }
  assert.deepEqual((await rotate(img, 0)).rgb, img.rgb);
});

test('a 10° rotation keeps the centre and blacks out the corners', async () => {
  const white = image(32, 32, () => 255);
  for (const angle of [10, -10]) {
    const out = await rotate(white, angle);
    for (const [x, y] of [
      [0, 0],
      [31, 0],
      [0, 31],
      [31, 31],
    ])
      assert.deepEqual(at(out, x, y), [0, 0, 0], `corner (${x},${y}) at ${angle}°`);
    for (const [x, y] of [
      [15, 15],
      [16, 0],
      [0, 16],
      [31, 15],
    ])
      assert.deepEqual(at(out, x, y), [255, 255, 255], `(${x},${y}) at ${angle}°`);
    const black = out.rgb.filter((v) => v === 0).length / 3;
    assert.ok(black > 0.05 * 1024 && black < 0.2 * 1024, `${black} black pixels`);
  }
});

test('brightness blends with black: 0 is black, 1 is identity, results truncate and clamp', async () => {
  const img = pixels([201, 100, 3], [255, 128, 0]);
  assert.deepEqual([...(await adjustBrightness(img, 0)).rgb], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual((await adjustBrightness(img, 1)).rgb, img.rgb);
  assert.deepEqual([...(await adjustBrightness(img, 0.5)).rgb], [100, 50, 1, 127, 64, 0]);
  assert.deepEqual([...(await adjustBrightness(img, 2)).rgb], [255, 200, 6, 255, 255, 0]);
});

test('contrast 0 gives the uniform mean grey; saturation 0 gives the grey image', async () => {
  // Greys 0.2989·255 → 76 and 0.114·255 → 29 (torch truncates to uint8), mean 52.5 → 52.
  const img = pixels([255, 0, 0], [0, 0, 255]);
  assert.deepEqual([...(await adjustContrast(img, 0)).rgb], [52, 52, 52, 52, 52, 52]);
  assert.deepEqual([...(await adjustSaturation(img, 0)).rgb], [76, 76, 76, 29, 29, 29]);
  // Weights summing to 0.9999 make torchvision's grey of white 254.
  assert.deepEqual([...(await adjustSaturation(pixels([255, 255, 255]), 0)).rgb], [254, 254, 254]);
  const rand = noise(7, 5, 1);
  assert.deepEqual((await adjustContrast(rand, 1)).rgb, rand.rgb);
  assert.deepEqual((await adjustSaturation(rand, 1)).rgb, rand.rgb);
  // Above 1 they push away from the grey and clamp.
  assert.deepEqual([...(await adjustSaturation(pixels([200, 100, 50]), 2)).rgb], [255, 76, 0]); // grey 124: 2·x − 124
});

test('hue: a half turn makes red cyan, a third makes red green, zero changes nothing', async () => {
  const primaries = pixels([255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]);
  assert.deepEqual(
    [...(await adjustHue(primaries, 0.5)).rgb],
    [0, 255, 255, 255, 0, 255, 255, 255, 0, 128, 128, 128],
  );
  assert.deepEqual([...(await adjustHue(primaries, -0.5)).rgb], [...(await adjustHue(primaries, 0.5)).rgb]);
  assert.deepEqual([...(await adjustHue(pixels([255, 0, 0]), 1 / 3)).rgb], [0, 255, 0]);
  assert.deepEqual([...(await adjustHue(pixels([255, 0, 0]), -1 / 3)).rgb], [0, 0, 255]);
  for (const seed of [1, 2, 3]) {
    const rand = noise(16, 16, seed);
    assert.deepEqual((await adjustHue(rand, 0)).rgb, rand.rgb);
    assert.deepEqual((await adjustHue(rand, -0)).rgb, rand.rgb);
  }
  const greys = image(256, 1, (x) => x);
  assert.deepEqual((await adjustHue(greys, 0.3)).rgb, greys.rgb, 'greys have no hue');
});

test("ColorJitter's draws: factors within their ranges, every order, nothing for a switched-off adjustment", () => {
  const rng = new Rng(5);
  const draws = Array.from({ length: 3000 }, () => sampleJitter(SEED_AUGMENT.jitter, rng));
  const range = (k: 'brightness' | 'contrast' | 'saturation' | 'hue') => {
    const v = draws.map((d) => d[k]!);
    return [Math.min(...v), Math.max(...v)];
  };
  for (const k of ['brightness', 'contrast', 'saturation'] as const) {
    const [lo, hi] = range(k);
    assert.ok(lo >= 0.8 && lo < 0.81 && hi < 1.2 && hi > 1.19, `${k} in [${lo}, ${hi}]`);
  }
  const [lo, hi] = range('hue');
  assert.ok(lo >= -0.1 && lo < -0.099 && hi < 0.1 && hi > 0.099, `hue in [${lo}, ${hi}]`);
  assert.equal(new Set(draws.map((d) => d.order.join())).size, 24);
  assert.ok(draws.every((d) => [...d.order].sort().join() === '0,1,2,3'));
  const off = sampleJitter({ brightness: 0, contrast: 0.5, saturation: 0, hue: 0 }, new Rng(1));
  assert.deepEqual([off.brightness, off.saturation, off.hue], [undefined, undefined, undefined]);
  assert.ok(off.contrast! >= 0.5 && off.contrast! <= 1.5);
  const strong = sampleJitter({ brightness: 3, contrast: 0, saturation: 0, hue: 0 }, new Rng(1));
  assert.ok(strong.brightness! >= 0, 'factors never go below 0');
});

test('the adjustments run in the drawn order: the batch equals one adjustment at a time', async () => {
  const jitter = { brightness: 0.3, contrast: 0.3, saturation: 0.3, hue: 0.1 };
  const cfg: AugmentConfig = { hflip: 0.5, rotate: 10, jitter };
  // Every hue position, flips and angles, in one batch.
  const params: JitterParams[] = [
    { order: [3, 0, 2, 1], brightness: 1.15, contrast: 0.85, saturation: 1.2, hue: 0.07 },
    { order: [0, 3, 1, 2], brightness: 0.9, contrast: 1.1, saturation: 0.75, hue: -0.09 },
    { order: [1, 2, 3, 0], brightness: 1.25, contrast: 0.8, saturation: 1.3, hue: 0.03 },
    { order: [2, 1, 0, 3], brightness: 0.8, contrast: 1.2, saturation: 0.9, hue: -0.02 },
    { order: [3, 2, 1, 0], brightness: 1.05, contrast: 0.95, saturation: 1.1, hue: 0.1 },
  ];
  const draws = params.map((j, i) => ({ flip: i % 2 === 0, degrees: 9.5 - 4.1 * i, jitter: j }));
  const imgs = params.map((_, i) => noise(12, 10, 20 + i));
  const batch = await augment(imgs, cfg, draws);
  for (const [i, d] of draws.entries()) {
    let step: DecodedImage = await one(
      imgs[i],
      { ...OFF, hflip: 1, rotate: 10 },
      { ...d, jitter: undefined },
    );
    for (const k of d.jitter.order) step = await adjust(ORDER[k])(step, d.jitter[ORDER[k]]!);
    assert.deepEqual(batch[i], step.rgb, `image ${i}`);
  }
  const reordered = await augment(
    imgs,
    cfg,
    draws.map((d) => ({ ...d, jitter: { ...d.jitter, order: [0, 1, 2, 3] } })),
  );
  assert.notDeepEqual(reordered[0], batch[0]);
});

test("drawAugment: torchvision's draws in its order (flip, angle, ColorJitter), deterministic per seed", () => {
  const a = drawAugment(SEED_AUGMENT, new Rng(42));
  assert.deepEqual(drawAugment(SEED_AUGMENT, new Rng(42)), a);
  assert.notDeepEqual(drawAugment(SEED_AUGMENT, new Rng(43)), a);
  const rng = new Rng(42);
  const flip = rng.next() < 0.5;
  const degrees = rng.uniform(-10, 10);
  assert.deepEqual(a, { flip, degrees, jitter: sampleJitter(SEED_AUGMENT.jitter, rng) });
  // A transform that is off draws nothing.
  assert.deepEqual(drawAugment(OFF, new Rng(1)), { flip: false, degrees: 0, jitter: undefined });
  const flips = Array.from({ length: 1000 }, (_, i) => drawAugment(SEED_AUGMENT, new Rng(i)).flip);
  const n = flips.filter(Boolean).length;
  assert.ok(n > 430 && n < 570, `${n} flips in 1000`);
  assert.ok(
    Array.from({ length: 100 }, (_, i) => drawAugment({ ...OFF, hflip: 1 }, new Rng(i)).flip).every(Boolean),
  );
});

test('bad settings and mismatched images or draws are refused with one line', async () => {
  assert.throws(
    () => checkAugmentConfig({ hflip: 1.5, rotate: 10, jitter: { ...SEED_AUGMENT.jitter, hue: 0.7 } }),
    {
      message: 'augmentation: hflip 1.5 must be a probability in [0, 1]; jitter hue 0.7 must be in [0, 0.5]',
    },
  );
  const img = noise(4, 3, 1);
  const kernel = await augmentKernelModule();
  const seeded = await Augmenter.open(kernel, preprocessOf(3, 4), SEED_AUGMENT);
  await assert.rejects(seeded.run([img.rgb], []), { message: 'augment: 0 draws for 1 images' });
  const plain = await Augmenter.open(kernel, preprocessOf(4, 4));
  await assert.rejects(plain.run([img.rgb]), { message: 'augment: image 0 is not 4x4 RGB' });
});

test("bit-exact with torchvision's own rotate and colour ops (recorded fixture)", async () => {
  // Made by torchvision's functional ops on uint8 tensors; see the fixture's "source".
  const fixture = JSON.parse(
    readFileSync(new URL('../../../test/data/torchvision-parity.json', import.meta.url), 'utf8'),
  ) as {
    images: {
      name: string;
      height: number;
      width: number;
      rgb: string;
      cases: { op: string; x: number; rgb: string }[];
    }[];
  };
  const ops: Record<string, (img: DecodedImage, x: number) => Promise<DecodedImage>> = {
    rotate,
    brightness: adjustBrightness,
    contrast: adjustContrast,
    saturation: adjustSaturation,
    hue: adjustHue,
  };
  let cases = 0;
  for (const { name, height, width, rgb, cases: list } of fixture.images) {
    const img = { height, width, rgb: new Uint8Array(Buffer.from(rgb, 'base64')) };
    for (const c of list) {
      assert.deepEqual(
        (await ops[c.op](img, c.x)).rgb,
        new Uint8Array(Buffer.from(c.rgb, 'base64')),
        `${name} ${c.op} ${c.x}`,
      );
      cases++;
    }
  }
  assert.equal(cases, 42);
});

/** resized_crop of one box alone. */
const cropTo = (img: DecodedImage, crop: CropBox) =>
  one(img, { ...OFF, cropScale: [0.5, 1] }, { crop, flip: false, degrees: 0 });

test("resized_crop: torchvision's bilinear resize of the box back to the image's size, within the fixture's tolerance (0: bit-exact)", async () => {
  // Made by test/data/record_crop_parity.py; see the fixture's "source" and "toleranceNote".
  const fixture = JSON.parse(
    readFileSync(new URL('../../../test/data/torchvision-crop-parity.json', import.meta.url), 'utf8'),
  ) as {
    tolerance: number;
    images: {
      name: string;
      height: number;
      width: number;
      rgb: string;
      cases: (CropBox & { rgb: string })[];
    }[];
    patterned: {
      height: number;
      width: number;
      top: number;
      left: number;
      boxHeight: number;
      boxWidth: number;
      sha256: string;
    }[];
  };
  const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
  for (const { name, height, width, rgb, cases } of fixture.images)
    for (const { rgb: want, ...box } of cases) {
      const got = (await cropTo({ height, width, rgb: bytes(rgb) }, box)).rgb;
      const worst = bytes(want).reduce((m, v, i) => Math.max(m, Math.abs(v - got[i])), 0);
      assert.ok(worst <= fixture.tolerance, `${name} ${JSON.stringify(box)}: off by ${worst}`);
    }
  // The patterned images' many random boxes, a batch per size (as the loader feeds them), kept as
  // hashes: these compare only bit for bit.
  assert.equal(fixture.tolerance, 0);
  const sizes = [...new Set(fixture.patterned.map((p) => `${p.height}x${p.width}`))];
  for (const size of sizes) {
    const list = fixture.patterned.filter((p) => `${p.height}x${p.width}` === size);
    const { height, width } = list[0];
    const img = image(width, height, (x, y, c) => ((x * 131 + y * 71 + c * 29) ^ (x * y * 7 + c * 13)) & 255);
    const draws = list.map((p) => ({
      crop: { top: p.top, left: p.left, height: p.boxHeight, width: p.boxWidth },
      flip: false,
      degrees: 0,
    }));
    const out = await augment(
      list.map(() => img),
      { ...OFF, cropScale: [0.5, 1] },
      draws,
    );
    for (const [i, p] of list.entries())
      assert.equal(
        createHash('sha256').update(out[i]).digest('hex').slice(0, 16),
        p.sha256,
        `${size} ${JSON.stringify(draws[i].crop)}`,
      );
  }
  assert.equal(fixture.images.flatMap((i) => i.cases).length + fixture.patterned.length, 193);
});

test('resized_crop: the whole image is itself; a crop runs before flip, rotation and jitter in one batch', async () => {
  const img = noise(14, 11, 3);
  assert.deepEqual((await cropTo(img, { top: 0, left: 0, height: 11, width: 14 })).rgb, img.rgb);
  const cfg: AugmentConfig = { ...SEED_AUGMENT, cropScale: [0.3, 1] };
  const imgs = [0, 1, 2, 3, 4, 5].map((i) => noise(14, 11, 60 + i));
  const draws = imgs.map((_, i) => drawAugment(cfg, new Rng(90 + i), [11, 14]));
  const batch = await augment(imgs, cfg, draws);
  for (const [i, d] of draws.entries()) {
    const cropped = await cropTo(imgs[i], d.crop!);
    assert.deepEqual(
      batch[i],
      (await augment([cropped], SEED_AUGMENT, [{ ...d, crop: undefined }]))[0],
      `image ${i}`,
    );
  }
  assert.ok(
    draws.some((d) => d.crop!.height < 11 && d.crop!.width < 14),
    'some crops are proper',
  );
});
