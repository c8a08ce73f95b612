import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  applyJitter,
  Augmenter,
  randomHorizontalFlip,
  randomRotation,
  sampleJitter,
  SEED_AUGMENT,
  type AugmentConfig,
} from '../../src/data/augment.js';
import { adjustBrightness, adjustContrast, adjustHue, adjustSaturation } from '../../src/data/color.js';
import { hflip, rotate, roundHalfEven } from '../../src/data/geometry.js';
import type { DecodedImage } from '../../src/data/image.js';
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

test('hflip mirrors each row', () => {
  const img = numbered(3, 2);
  const out = hflip(img);
  for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) assert.deepEqual(at(out, x, y), at(img, 2 - x, y));
});

test('rotate by ±90° and 180° moves pixels exactly where torchvision puts them', () => {
  for (const n of [4, 5]) {
    const img = numbered(n, n);
    const [ccw, cw, half] = [rotate(img, 90), rotate(img, -90), rotate(img, 180)];
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
  const out = rotate(img, 90);
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 6; x++) {
      assert.deepEqual(
        at(out, x, y),
        x >= 1 && x <= 4 ? at(img, 4 - y, x - 1) : [0, 0, 0],
        `6x4 (${x},${y})`,
      );
    }
  assert.deepEqual(rotate(img, 0).rgb, img.rgb);
});

test('a 10° rotation keeps the centre and blacks out the corners', () => {
  const white = image(32, 32, () => 255);
  for (const angle of [10, -10]) {
    const out = rotate(white, angle);
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

test('nearest-pixel rounding is half to even, as torch.round', () => {
  assert.deepEqual(
    [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, 2.6].map(roundHalfEven),
    [-2, -2, -0, 0, 2, 2, 2, 3],
  );
});

test('brightness blends with black: 0 is black, 1 is identity, results truncate and clamp', () => {
  const img = pixels([201, 100, 3], [255, 128, 0]);
  assert.deepEqual([...adjustBrightness(img, 0).rgb], [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(adjustBrightness(img, 1).rgb, img.rgb);
  assert.deepEqual([...adjustBrightness(img, 0.5).rgb], [100, 50, 1, 127, 64, 0]);
  assert.deepEqual([...adjustBrightness(img, 2).rgb], [255, 200, 6, 255, 255, 0]);
});

test('contrast 0 gives the uniform mean grey; saturation 0 gives the grey image', () => {
  // Greys 0.2989·255 → 76 and 0.114·255 → 29 (torch truncates to uint8), mean 52.5 → 52.
  const img = pixels([255, 0, 0], [0, 0, 255]);
  assert.deepEqual([...adjustContrast(img, 0).rgb], [52, 52, 52, 52, 52, 52]);
  assert.deepEqual([...adjustSaturation(img, 0).rgb], [76, 76, 76, 29, 29, 29]);
  // Weights summing to 0.9999 make torchvision's grey of white 254.
  assert.deepEqual([...adjustSaturation(pixels([255, 255, 255]), 0).rgb], [254, 254, 254]);
  const rand = noise(7, 5, 1);
  assert.deepEqual(adjustContrast(rand, 1).rgb, rand.rgb);
  assert.deepEqual(adjustSaturation(rand, 1).rgb, rand.rgb);
  // Above 1 they push away from the grey and clamp.
  assert.deepEqual([...adjustSaturation(pixels([200, 100, 50]), 2).rgb], [255, 76, 0]); // grey 124: 2·x − 124
});

test('hue: a half turn makes red cyan, a third makes red green, zero changes nothing', () => {
  const primaries = pixels([255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]);
  assert.deepEqual(
    [...adjustHue(primaries, 0.5).rgb],
    [0, 255, 255, 255, 0, 255, 255, 255, 0, 128, 128, 128],
  );
  assert.deepEqual([...adjustHue(primaries, -0.5).rgb], [...adjustHue(primaries, 0.5).rgb]);
  assert.deepEqual([...adjustHue(pixels([255, 0, 0]), 1 / 3).rgb], [0, 255, 0]);
  assert.deepEqual([...adjustHue(pixels([255, 0, 0]), -1 / 3).rgb], [0, 0, 255]);
  for (const seed of [1, 2, 3]) {
    const rand = noise(16, 16, seed);
    assert.deepEqual(adjustHue(rand, 0).rgb, rand.rgb);
    assert.deepEqual(adjustHue(rand, -0).rgb, rand.rgb);
  }
  const greys = image(256, 1, (x) => x);
  assert.deepEqual(adjustHue(greys, 0.3).rgb, greys.rgb, 'greys have no hue');
  assert.throws(() => adjustHue(greys, 0.6), { message: 'adjustHue: factor 0.6 is not in [-0.5, 0.5]' });
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

test('the adjustments run in the drawn order', () => {
  const img = noise(6, 6, 9);
  const params = { order: [3, 0, 2, 1], brightness: 1.15, contrast: 0.85, saturation: 1.2, hue: 0.07 };
  const manual = adjustContrast(adjustSaturation(adjustBrightness(adjustHue(img, 0.07), 1.15), 1.2), 0.85);
  assert.deepEqual(applyJitter(img, params).rgb, manual.rgb);
  assert.notDeepEqual(applyJitter(img, { ...params, order: [0, 1, 2, 3] }).rgb, manual.rgb);
});

test('Augmenter: flip → rotation → jitter from one generator, deterministic per seed, input untouched', () => {
  const img = noise(24, 20, 4);
  const before = img.rgb.slice();
  const aug = new Augmenter(SEED_AUGMENT);
  const a = aug.apply(img, new Rng(42));
  assert.deepEqual(aug.apply(img, new Rng(42)).rgb, a.rgb, 'same seed, same bytes');
  assert.notDeepEqual(aug.apply(img, new Rng(43)).rgb, a.rgb);
  assert.deepEqual(img.rgb, before);
  // The same draws by hand.
  const rng = new Rng(42);
  const flipped = randomHorizontalFlip(img, 0.5, rng);
  const rotated = randomRotation(flipped, 10, rng);
  assert.deepEqual(a.rgb, applyJitter(rotated, sampleJitter(SEED_AUGMENT.jitter, rng)).rgb);
  // Everything off is the identity.
  const off: AugmentConfig = {
    hflip: 0,
    rotate: 0,
    jitter: { brightness: 0, contrast: 0, saturation: 0, hue: 0 },
  };
  assert.deepEqual(new Augmenter(off).apply(img, new Rng(1)).rgb, img.rgb);
  // p = 1 always flips; p = 0.5 flips about half the time.
  assert.deepEqual(randomHorizontalFlip(img, 1, new Rng(3)).rgb, hflip(img).rgb);
  const flips = Array.from(
    { length: 1000 },
    (_, i) => randomHorizontalFlip(img, 0.5, new Rng(i)) !== img,
  ).filter(Boolean).length;
  assert.ok(flips > 430 && flips < 570, `${flips} flips in 1000`);
});

test('Augmenter refuses impossible settings', () => {
  assert.throws(
    () => new Augmenter({ hflip: 1.5, rotate: 10, jitter: { ...SEED_AUGMENT.jitter, hue: 0.7 } }),
    {
      message: 'augmentation: hflip 1.5 must be a probability in [0, 1]; jitter hue 0.7 must be in [0, 0.5]',
    },
  );
});

test("bit-exact with torchvision's own rotate and colour ops (recorded fixture)", () => {
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
  const ops: Record<string, (img: DecodedImage, x: number) => DecodedImage> = {
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
        ops[c.op](img, c.x).rgb,
        new Uint8Array(Buffer.from(c.rgb, 'base64')),
        `${name} ${c.op} ${c.x}`,
      );
      cases++;
    }
  }
  assert.equal(cases, 42);
});
