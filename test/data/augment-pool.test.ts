import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SEED_AUGMENT } from '../../src/data/augment.js';
import { augmentKernelModule } from '../../src/data/augment-kernel-file.js';
import { AugmentPool } from '../../src/data/augment-pool.js';
import { EpochImages } from '../../src/data/epoch-images.js';
import { ImageStore } from '../../src/data/image-store.js';
import { IMAGENET_PREPROCESS } from '../../src/models/backbone.js';

const size: [number, number] = [12, 10];
const options = async () => ({
  preprocess: { ...IMAGENET_PREPROCESS, size },
  augment: SEED_AUGMENT,
  seed: 3,
  kernel: await augmentKernelModule(),
});

/** Five images of distinct bytes, in `buffer`. */
function store(buffer: ArrayBufferLike): ImageStore {
  const s = new ImageStore(5, size, buffer);
  s.pixels.forEach((_, i) => (s.pixels[i] = (i * 37 + (i >> 4)) & 255));
  return s;
}

test("the pool's batches are EpochImages' on one thread, bit for bit, in any order of images", async () => {
  const images = store(new SharedArrayBuffer(5 * 12 * 10 * 3));
  const one = await EpochImages.open(images, await options());
  const pool = await AugmentPool.open(images, await options(), 2);
  try {
    for (const [epoch, indices] of [
      [0, [0, 1, 2, 3, 4]],
      [1, [4, 2, 0]],
      [1, [3]],
    ] as const) {
      const want = await one.batch(epoch, indices);
      assert.deepEqual(await pool.batch(epoch, indices), want, `epoch ${epoch}, images ${indices.join()}`);
    }
  } finally {
    await Promise.all([one.release(), pool.release()]);
  }
});

test("a worker's error rejects its batch with the worker's message, and the pool goes on", async () => {
  const images = store(new SharedArrayBuffer(5 * 12 * 10 * 3));
  const pool = await AugmentPool.open(images, await options(), 1);
  try {
    // Image 9 is past the store's end: the worker's share (the second half) sees no pixels.
    await assert.rejects(pool.batch(0, [0, 9]), { message: 'augment: image 0 is not 12x10 RGB' });
    assert.deepEqual((await pool.batch(0, [0, 1])).shape, [2, 3, 12, 10]);
  } finally {
    await pool.release();
  }
  await assert.rejects(pool.batch(0, [0]), { message: 'augment pool: released' });
});

test('a store outside shared memory is refused with what to do', async () => {
  await assert.rejects(AugmentPool.open(store(new ArrayBuffer(5 * 12 * 10 * 3)), await options(), 1), {
    message: 'augment pool: the image store is not in shared memory; build it with checkImages',
  });
});
