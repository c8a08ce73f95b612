import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type AugmentConfig, checkAugmentConfig, drawAugment, SEED_AUGMENT } from '../../src/data/augment.js';
import { bilinearTaps, CROP_RATIO, type CropBox, drawResizedCrop } from '../../src/data/resized-crop.js';
import { Rng } from '../../src/random/rng.js';

/*
 * RandomResizedCrop.get_params on our generator. The draws are ours, so torchvision's own boxes cannot
 * be compared; what is checked is its logic on our draws: which uniforms make a try, which tries are
 * kept, the bounds of what is kept, and the central fallback (that one against torchvision's own).
 */

const [LOG_LO, LOG_HI] = CROP_RATIO.map(Math.log);

/** A box with the uniforms it took from the generator of `seed` (read off a twin generator). */
function drawn(size: [number, number], scale: [number, number], seed: number) {
  const rng = new Rng(seed);
  const box = drawResizedCrop(size, scale, CROP_RATIO, rng);
  const twin = new Rng(seed);
  const uniforms: number[] = [];
  while (twin.state().join() !== rng.state().join()) {
    if (uniforms.length > 22) throw new Error(`seed ${seed}: more than 22 draws`);
    uniforms.push(twin.next());
  }
  return { box, uniforms };
}

/**
 * The width and height a try's two uniforms ask for, before rounding: area = uniform(scale)·H·W,
 * aspect = exp(uniform(log 3/4, log 4/3)), w = √(area·aspect), h = √(area/aspect).
 */
function asked([h0, w0]: [number, number], [lo, hi]: [number, number], uArea: number, uRatio: number) {
  const area = h0 * w0 * (lo + (hi - lo) * uArea);
  const aspect = Math.exp(LOG_LO + (LOG_HI - LOG_LO) * uRatio);
  return { w: Math.sqrt(area * aspect), h: Math.sqrt(area / aspect) };
}

/** Rounding to a whole pixel moves a side by at most ½ (the float32 steps add far less than 1e-3). */
const EPS = 1e-3;
const inside = ({ top, left, height, width }: CropBox, [h, w]: [number, number]) =>
  [top, left, height, width].every(Number.isInteger) &&
  height > 0 &&
  width > 0 &&
  top >= 0 &&
  left >= 0 &&
  top + height <= h &&
  left + width <= w;

test('get_params on our draws: two uniforms a try, misses skipped, the first fit kept, then top and left', () => {
  const keptAt = new Map<number, number>();
  for (const [size, scale] of [
    [
      [30, 30],
      [0.9, 1],
    ],
    [
      [20, 28],
      [0.8, 1],
    ],
    [
      [224, 224],
      [0.5, 1],
    ],
  ] as [[number, number], [number, number]][])
    for (let seed = 0; seed < 400; seed++) {
      const { box, uniforms } = drawn(size, scale, seed);
      const where = `${size} (${scale}) seed ${seed}`;
      assert.ok(inside(box, size), `${where}: ${JSON.stringify(box)}`);
      // A try fits when both sides round to at most the image's (within EPS of a half: not decided here).
      const fits = (t: number) => {
        const { w, h } = asked(size, scale, uniforms[2 * t], uniforms[2 * t + 1]);
        const margin = Math.min(size[1] + 0.5 - w, size[0] + 0.5 - h);
        return Math.abs(margin) < EPS ? undefined : margin > 0;
      };
      let t = 0;
      while (t < 10 && 2 * t + 1 < uniforms.length && fits(t) === false) t++;
      if (t < 10 && fits(t) === undefined) continue;
      keptAt.set(t + 1, (keptAt.get(t + 1) ?? 0) + 1);
      if (t === 10) {
        assert.equal(uniforms.length, 20, `${where}: ten misses take 20 uniforms, none for the position`);
        continue;
      }
      // Try t + 1 is kept: its two uniforms, then torch.randint(0, H − h + 1) and (0, W − w + 1).
      assert.equal(uniforms.length, 2 * t + 4, where);
      const { w, h } = asked(size, scale, uniforms[2 * t], uniforms[2 * t + 1]);
      assert.ok(Math.abs(box.width - w) <= 0.5 + EPS && Math.abs(box.height - h) <= 0.5 + EPS, where);
      const [uTop, uLeft] = uniforms.slice(-2);
      assert.equal(box.top, Math.floor(uTop * (size[0] - box.height + 1)), where);
      assert.equal(box.left, Math.floor(uLeft * (size[1] - box.width + 1)), where);
    }
  // Kept at the first try, at later ones, and ten misses: every path was taken.
  const counts = JSON.stringify([...keptAt].sort((a, b) => a[0] - b[0]));
  assert.ok(keptAt.has(1) && [2, 3, 4, 5].every((t) => keptAt.has(t)) && keptAt.has(11), counts);
  assert.ok([...keptAt.values()].reduce((a, b) => a + b) > 1190, `${counts}: few undecided`);
});

test('get_params bounds: area fractions in the scale range, aspects in (3/4, 4/3), positions all over', () => {
  for (const size of [
    [224, 224],
    [288, 288],
    [20, 28],
  ] as [number, number][])
    for (const [lo, hi] of [
      [0.08, 1],
      [0.2, 0.4],
      [0.5, 1],
    ] as [number, number][]) {
      const where = `${size} (${lo}, ${hi})`;
      const [h0, w0] = size;
      const boxes = Array.from({ length: 3000 }, (_, seed) => drawn(size, [lo, hi], seed))
        .filter((d) => d.uniforms.length !== 20)
        .map((d) => d.box);
      assert.ok(boxes.length > 2900, `${where}: ${boxes.length} kept, not fallen back`);
      for (const b of boxes) {
        // Some sides within ½ of the box's give an area and aspect in range (the rounding's only slack).
        const [wUp, wDown, hUp, hDown] = [b.width + 0.5, b.width - 0.5, b.height + 0.5, b.height - 0.5];
        assert.ok(inside(b, size), `${where}: ${JSON.stringify(b)}`);
        assert.ok(wUp * hUp >= lo * h0 * w0 - EPS && wDown * hDown <= hi * h0 * w0 + EPS, `${where} area`);
        assert.ok(wUp / hDown >= 3 / 4 - EPS && wDown / hUp <= 4 / 3 + EPS, `${where} aspect`);
      }
      // The ranges are used to their ends: small and large areas, wide and tall boxes, every edge.
      const areas = boxes.map((b) => (b.height * b.width) / (h0 * w0));
      const span = hi - lo;
      assert.ok(
        Math.min(...areas) < lo + 0.05 * span + 0.03 && Math.max(...areas) > hi - 0.05 * span - 0.03,
        where,
      );
      assert.ok(
        boxes.some((b) => b.width > b.height) && boxes.some((b) => b.width < b.height),
        `${where} shapes`,
      );
      assert.ok(
        boxes.some((b) => b.top === 0) &&
          boxes.some((b) => b.left === 0) &&
          boxes.some((b) => b.top + b.height === h0) &&
          boxes.some((b) => b.left + b.width === w0),
        `${where} positions`,
      );
    }
});

test("get_params fallback: after ten misses, torchvision's central crop with the aspect clamped to the range", () => {
  // Recorded from torchvision (test/data/record_crop_parity.py): a scale above 1 never fits.
  const { fallback } = JSON.parse(
    readFileSync(new URL('../../../test/data/torchvision-crop-parity.json', import.meta.url), 'utf8'),
  ) as { fallback: { size: [number, number]; box: CropBox }[] };
  for (const { size, box } of fallback) {
    const { box: got, uniforms } = drawn(size, [5, 5], 1);
    assert.deepEqual(got, box, `${size}`);
    assert.equal(uniforms.length, 20, `${size}: ten tries, no draw for the position`);
  }
  assert.equal(fallback.length, 5);
  // In range: the whole image. Wider than 4/3: the full height, width round(H·4/3); taller than 3/4
  // (W/H below it): the full width, height round(W/(3/4)); centred, rounding down.
  assert.deepEqual(drawResizedCrop([224, 224], [5, 5], CROP_RATIO, new Rng(2)), {
    top: 0,
    left: 0,
    height: 224,
    width: 224,
  });
  assert.deepEqual(drawResizedCrop([20, 40], [5, 5], CROP_RATIO, new Rng(2)), {
    top: 0,
    left: 6,
    height: 20,
    width: 27,
  });
  assert.deepEqual(drawResizedCrop([40, 20], [5, 5], CROP_RATIO, new Rng(2)), {
    top: 6,
    left: 0,
    height: 27,
    width: 20,
  });
  // A real scale falls back too where no try can fit: the whole area of a 2:1 image needs aspect 2.
  for (let seed = 0; seed < 50; seed++) {
    const { box, uniforms } = drawn([20, 40], [1, 1], seed);
    assert.deepEqual([box, uniforms.length], [{ top: 0, left: 6, height: 20, width: 27 }, 20]);
  }
});

test('drawAugment with a crop: crop first (torchvision Compose order), deterministic per seed; off draws nothing', () => {
  const cfg: AugmentConfig = { ...SEED_AUGMENT, cropScale: [0.5, 1] };
  const a = drawAugment(cfg, new Rng(42), [224, 224]);
  assert.deepEqual(drawAugment(cfg, new Rng(42), [224, 224]), a);
  assert.notDeepEqual(drawAugment(cfg, new Rng(43), [224, 224]).crop, a.crop);
  // The crop's draws come first; flip, rotation and jitter then draw what they would have after them.
  const rng = new Rng(42);
  const crop = drawResizedCrop([224, 224], [0.5, 1], CROP_RATIO, rng);
  assert.deepEqual(a, { crop, ...drawAugment(SEED_AUGMENT, rng) });
  // Without it, the size changes nothing and no crop key is added.
  assert.deepEqual(
    drawAugment(SEED_AUGMENT, new Rng(42), [224, 224]),
    drawAugment(SEED_AUGMENT, new Rng(42)),
  );
  assert.ok(!('crop' in drawAugment(SEED_AUGMENT, new Rng(42))));
  assert.throws(() => drawAugment(cfg, new Rng(42)), {
    message: 'drawAugment: the crop needs the image size [H, W]',
  });
});

test('bilinearTaps: the same size is the identity; edges repeat the last pixel; weights sum to about 1', () => {
  assert.deepEqual(bilinearTaps(3, 5, 5), {
    index: [
      [3, 4, 5, 6, 7],
      [4, 5, 6, 7, 7],
    ],
    weight: [
      [1, 1, 1, 1, 1],
      [0, 0, 0, 0, 0],
    ],
  });
  // 2 -> 4: sources at −0.25 (clamped to 0), 0.25, 0.75, 1.25 (past the last: the last pixel twice).
  assert.deepEqual(bilinearTaps(0, 2, 4), {
    index: [
      [0, 0, 0, 1],
      [1, 1, 1, 1],
    ],
    weight: [
      [1, 0.75, 0.25, 0.75],
      [0, 0.25, 0.75, 0.25],
    ],
  });
  const t = bilinearTaps(10, 37, 224);
  assert.ok(t.weight[0].every((w0, i) => Math.abs(w0 + t.weight[1][i] - 1) < 1e-7));
  assert.ok([...t.index[0], ...t.index[1]].every((i) => i >= 10 && i < 47));
});

test('a crop scale that is not 0 < min <= max <= 1 is refused with one line', () => {
  for (const cropScale of [
    [0, 1],
    [-0.5, 1],
    [0.5, 1.5],
    [0.8, 0.5],
    [NaN, 1],
  ] as [number, number][])
    assert.throws(() => checkAugmentConfig({ ...SEED_AUGMENT, cropScale }), {
      message: `augmentation: crop scale ${cropScale.join(',')} must be min,max with 0 < min <= max <= 1`,
    });
  for (const cropScale of [
    [1, 1],
    [0.08, 1],
    [0.3, 0.3],
  ] as [number, number][])
    checkAugmentConfig({ ...SEED_AUGMENT, cropScale });
});
