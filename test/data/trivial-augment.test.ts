import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type AugmentConfig, type AugmentDraw, drawAugment, SEED_AUGMENT } from '../../src/data/augment.js';
import { augmentKernelModule } from '../../src/data/augment-kernel-file.js';
import { Augmenter } from '../../src/data/augmenter.js';
import {
  drawTrivial,
  type TrivialDraw,
  TRIVIAL_BINS,
  TRIVIAL_MAGNITUDES,
  TRIVIAL_OPS,
  trivialSigned,
} from '../../src/data/trivial-augment.js';
import { TRIVIAL_IO, trivialFeeds, trivialGraph } from '../../src/data/trivial-augment-graph.js';
import type { Preprocess } from '../../src/models/backbone.js';
import { Rng } from '../../src/random/rng.js';
import { nodeAndWeb } from '../helpers/node-and-web.js';

/*
 * TrivialAugmentWide: torchvision's ops on real photos, bit for bit (a recorded fixture), and its
 * get_params logic on our draws (the draws are ours, so only the logic can be compared).
 */

const fixture = JSON.parse(
  readFileSync(new URL('../../../test/data/torchvision-trivial-parity.json', import.meta.url), 'utf8'),
) as {
  tolerance: Record<string, number>;
  magnitudes: Record<string, number[]>;
  signed: string[];
  photos: {
    name: string;
    height: number;
    width: number;
    rgb: string;
    cases: { op: string; bin: number | null; negative: boolean; sha256: string }[];
  }[];
};

const OFF: AugmentConfig = {
  hflip: 0,
  rotate: 0,
  jitter: { brightness: 0, contrast: 0, saturation: 0, hue: 0 },
};
const TRIVIAL: AugmentConfig = { ...OFF, trivialAugment: true };
/** Output v/255 in float32, so the bytes come back as round(output·255). */
const RAW = { mean: [0, 0, 0], std: [1, 1, 1] } as const;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** The augmenter's output on images of one size, as HWC bytes per image. */
async function run(augmenter: Augmenter, images: Uint8Array[], size: [number, number], draws: AugmentDraw[]) {
  const out = (await augmenter.run(images, draws)).data;
  const plane = size[0] * size[1];
  return images.map((_, n) => {
    const rgb = new Uint8Array(plane * 3);
    for (let c = 0; c < 3; c++)
      for (let i = 0; i < plane; i++) rgb[i * 3 + c] = Math.round(out[(n * 3 + c) * plane + i] * 255);
    return rgb;
  });
}
const open = async (size: [number, number], cfg: AugmentConfig) =>
  Augmenter.open(await augmentKernelModule(), { ...RAW, size } as Preprocess, cfg);
const only = (trivial: TrivialDraw): AugmentDraw => ({ flip: false, degrees: 0, trivial });

test("the magnitudes are torchvision's _augmentation_space(31), float32 for float32", () => {
  assert.deepEqual(TRIVIAL_OPS, Object.keys(fixture.magnitudes));
  for (const op of TRIVIAL_OPS) assert.deepEqual(TRIVIAL_MAGNITUDES[op], fixture.magnitudes[op], op);
  assert.deepEqual(
    TRIVIAL_OPS.filter((op) => trivialSigned(op)),
    fixture.signed,
  );
});

test("every op at every magnitude and sign is torchvision's on real photos, within the fixture's tolerance (0: bit-exact)", async () => {
  // Made by test/data/record_trivial_parity.py; see the fixture's "toleranceNote".
  assert.ok(
    Object.values(fixture.tolerance).every((t) => t === 0),
    'compared by hash: exact only',
  );
  let cases = 0;
  for (const photo of fixture.photos) {
    const size: [number, number] = [photo.height, photo.width];
    const rgb = new Uint8Array(Buffer.from(photo.rgb, 'base64'));
    const augmenter = await open(size, TRIVIAL);
    // In runs of 8, as the loader feeds them: most runs leave some of the ops' slices empty.
    for (let at = 0; at < photo.cases.length; at += 8) {
      const run8 = photo.cases.slice(at, at + 8);
      const draws = run8.map(({ op, bin, negative }) =>
        only({
          op: TRIVIAL_OPS.indexOf(op as (typeof TRIVIAL_OPS)[number]),
          ...(bin !== null && { bin }),
          ...(trivialSigned(op as (typeof TRIVIAL_OPS)[number]) && { negative }),
        }),
      );
      const got = await run(
        augmenter,
        run8.map(() => rgb),
        size,
        draws,
      );
      for (const [i, c] of run8.entries())
        assert.equal(
          sha(got[i]),
          c.sha256,
          `${photo.name} ${c.op} bin ${c.bin}${c.negative ? ' negative' : ''}`,
        );
      cases += run8.length;
    }
    await augmenter.release();
  }
  assert.equal(cases, 1349);
});

/** A draw with the integers it took from the generator of `seed`, as rng.int(n) of each uniform. */
function drawn(seed: number) {
  const rng = new Rng(seed);
  const d = drawTrivial(rng);
  const twin = new Rng(seed);
  const uniforms: number[] = [];
  while (twin.state().join() !== rng.state().join()) uniforms.push(twin.next());
  return { d, uniforms };
}

test('get_params on our draws: the op, a bin if it has magnitudes, a sign if signed; uniform over each', () => {
  const opCount = new Array<number>(TRIVIAL_OPS.length).fill(0);
  const binCount = new Array<number>(TRIVIAL_BINS).fill(0);
  let [signed, negative] = [0, 0];
  const n = 28000;
  for (let seed = 0; seed < n; seed++) {
    const { d, uniforms } = drawn(seed);
    const op = TRIVIAL_OPS[d.op];
    const hasBins = TRIVIAL_MAGNITUDES[op].length > 0;
    assert.equal(d.op, Math.floor(uniforms[0] * 14));
    assert.equal(uniforms.length, 1 + (hasBins ? 1 : 0) + (trivialSigned(op) ? 1 : 0), op);
    if (hasBins) {
      assert.equal(d.bin, Math.floor(uniforms[1] * 31));
      binCount[d.bin!]++;
    } else assert.ok(!('bin' in d));
    if (trivialSigned(op)) {
      assert.equal(d.negative, Math.floor(uniforms[2] * 2) === 1);
      signed++;
      if (d.negative) negative++;
    } else assert.ok(!('negative' in d));
    opCount[d.op]++;
  }
  // Within 4.5 standard deviations of uniform.
  const near = (count: number, total: number, p: number) =>
    Math.abs(count - total * p) < 4.5 * Math.sqrt(total * p * (1 - p));
  opCount.forEach((c, i) => assert.ok(near(c, n, 1 / 14), `${TRIVIAL_OPS[i]}: ${c}`));
  // 11 of the 14 ops have magnitudes.
  const binned = binCount.reduce((a, b) => a + b, 0);
  assert.ok(near(binned, n, 11 / 14), `${binned} bins`);
  binCount.forEach((c, i) => assert.ok(near(c, binned, 1 / 31), `bin ${i}: ${c}`));
  assert.ok(near(negative, signed, 0.5), `${negative} of ${signed} negative`);
});

test('TrivialAugment runs after flip and rotation and before the jitter, in one batch, hue groups and all', async () => {
  const size: [number, number] = [14, 18];
  const cfg: AugmentConfig = { ...SEED_AUGMENT, trivialAugment: true };
  const noise = (seed: number) => {
    const rng = new Rng(seed);
    return Uint8Array.from({ length: 14 * 18 * 3 }, () => rng.int(256));
  };
  const imgs = Array.from({ length: 12 }, (_, i) => noise(300 + i));
  const draws = imgs.map((_, i) => drawAugment(cfg, new Rng(500 + i)));
  const [all, geometry, trivial, jitter] = await Promise.all(
    [
      cfg,
      { ...cfg, jitter: OFF.jitter, trivialAugment: undefined },
      TRIVIAL,
      { ...SEED_AUGMENT, hflip: 0, rotate: 0 },
    ].map((c) => open(size, c)),
  );
  const batch = await run(all, imgs, size, draws);
  const turned = await run(geometry, imgs, size, draws);
  const augmented = await run(
    trivial,
    turned,
    size,
    draws.map((d) => only(d.trivial!)),
  );
  const chained = await run(
    jitter,
    augmented,
    size,
    draws.map((d) => ({ flip: false, degrees: 0, jitter: d.jitter })),
  );
  assert.deepEqual(batch, chained);
  assert.ok(new Set(draws.map((d) => d.trivial!.op)).size > 5, 'several ops');
  assert.ok(new Set(draws.map((d) => d.jitter!.order.indexOf(3))).size > 1, 'several hue positions');
  await Promise.all([all, geometry, trivial, jitter].map((s) => s.release()));
});

test('off (the default), nothing of it: no draws; on, draws come between the angle and the jitter', () => {
  const off = drawAugment(SEED_AUGMENT, new Rng(3));
  assert.ok(!('trivial' in off));
  // The angle is the same draw with it on, the jitter comes after TrivialAugment's draws.
  const rng = new Rng(3);
  const on = drawAugment({ ...SEED_AUGMENT, trivialAugment: true }, rng);
  assert.equal(on.degrees, off.degrees);
  assert.equal(on.flip, off.flip);
  const twin = new Rng(3);
  twin.next();
  twin.next();
  assert.deepEqual(on.trivial, drawTrivial(twin));
  assert.deepEqual(Object.keys(on), ['flip', 'degrees', 'trivial', 'jitter']);
});

test("every op's graph runs in onnxruntime-web (WebAssembly, the browser's) too, with the same bytes", async () => {
  const [photo] = fixture.photos;
  const size: [number, number] = [photo.height, photo.width];
  const rgb = new Uint8Array(Buffer.from(photo.rgb, 'base64'));
  const draws = TRIVIAL_OPS.map((op, i) =>
    only({
      op: i,
      ...(TRIVIAL_MAGNITUDES[op].length > 0 && { bin: 20 }),
      ...(trivialSigned(op) && { negative: i % 2 === 0 }),
    }),
  );
  const pixels = new Uint8Array(draws.length * rgb.length);
  draws.forEach((_, i) => pixels.set(rgb, i * rgb.length));
  const feeds = trivialFeeds(
    pixels,
    draws.map((d) => d.trivial!),
    size,
  );
  const { node: want, web: got } = await nodeAndWeb(trivialGraph(size), feeds, TRIVIAL_IO.output);
  assert.deepEqual(got, want);
});
