import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkImages } from '../../src/data/check-images.js';
import { decodeResized } from '../../src/data/image.js';
import type { Sample } from '../../src/data/sample.js';
import { Rng } from '../../src/random/rng.js';
import { encode, pngHeaderClaiming, put, tempDir } from './fixtures.js';

const dir = tempDir('smoker-check-');
const size: [number, number] = [8, 8];

/** Seeded random bytes: no image signature, so the same verdict every run. */
const noise = (n: number) => {
  const rng = new Rng(3);
  return Buffer.from(Array.from({ length: n }, () => rng.int(256)));
};

/** Good images interleaved with every kind of bad file, as a data set would meet them. */
async function samples(): Promise<{ all: Sample[]; good: Sample[] }> {
  const jpeg = await encode(64, 48, (x, y, c) => (x * 3 + y * 5 + c * 40) & 255, 'jpeg');
  const file = (name: string, bytes: Buffer | string, label = 1) => ({ path: put(dir, name, bytes), label });
  const good = [
    file('smoking_ok1.jpg', jpeg),
    file('notsmoking_ok2.png', await encode(20, 30, (x) => x * 10), 0),
    file('smoking_ok3.jpg', jpeg),
  ];
  const all = [
    file('smoking_truncated.jpg', jpeg.subarray(0, jpeg.length >> 1)),
    good[0],
    file('smoking_empty.jpg', ''),
    file('smoking_text.jpg', 'this is a note, not a photo\n'),
    good[1],
    file('smoking_huge.png', pngHeaderClaiming(30000, 30000)),
    file('smoking_noise.jpg', noise(5000)),
    good[2],
  ];
  return { all, good };
}

test("'skip' drops truncated, empty, non-image, over-large and random-byte files and says why", async () => {
  const { all, good } = await samples();
  const checked = await checkImages(all, { onBadImage: 'skip', size });
  assert.deepEqual(checked.samples, good);
  const reasons = Object.fromEntries(checked.skipped.map((s) => [s.path.slice(dir.length + 1), s.reason]));
  assert.deepEqual(Object.keys(reasons), [
    'smoking_truncated.jpg',
    'smoking_empty.jpg',
    'smoking_text.jpg',
    'smoking_huge.png',
    'smoking_noise.jpg',
  ]);
  assert.match(reasons['smoking_truncated.jpg'], /^truncated or corrupt image \(/);
  assert.equal(reasons['smoking_empty.jpg'], 'empty file, not an image');
  assert.equal(reasons['smoking_text.jpg'], 'not an image, or a format that cannot be read');
  assert.equal(reasons['smoking_huge.png'], 'image too large (30000x30000, over 50 megapixels)');
  assert.match(reasons['smoking_noise.jpg'], /^not an image, or a format that cannot be read$/);
  // The kept pixels are each good file decoded once, in sample order.
  assert.equal(checked.images.count, 3);
  for (const [i, s] of good.entries()) {
    assert.deepEqual(checked.images.image(i).rgb, (await decodeResized(s.path, size)).rgb);
  }
});

test("'fail' throws the first bad file's one-line error, in sample order", async () => {
  const { all } = await samples();
  await assert.rejects(checkImages(all, { onBadImage: 'fail', size, concurrency: 3 }), (e: Error) => {
    assert.ok(
      e.message.startsWith(`${join(dir, 'smoking_truncated.jpg')}: truncated or corrupt image (`),
      e.message,
    );
    assert.match(e.message, /; remove or replace the file, or skip bad images$/);
    assert.ok(!e.message.includes('\n'));
    return true;
  });
});

test('maxPixels refuses smaller images than the decoder limit, from the header alone', async () => {
  const path = put(dir, 'smoking_big.png', await encode(100, 60, () => 9));
  const sample = [{ path, label: 1 }];
  const checked = await checkImages(sample, { onBadImage: 'skip', size, maxPixels: 5000 });
  assert.deepEqual(checked.skipped, [{ path, reason: 'image too large (100x60, over 0.005 megapixels)' }]);
  assert.equal((await checkImages(sample, { onBadImage: 'fail', size, maxPixels: 6000 })).samples.length, 1);
  await assert.rejects(
    checkImages(sample, { onBadImage: 'fail', size, maxPixels: 1e9 }),
    /maxPixels 1000000000 must be/,
  );
});
