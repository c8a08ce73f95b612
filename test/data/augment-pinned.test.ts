import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { drawAugment, SEED_AUGMENT } from '../../src/data/augment.js';
import { augmentKernelModule } from '../../src/data/augment-kernel-file.js';
import { augmentRng } from '../../src/data/derived-rng.js';
import { EpochImages } from '../../src/data/epoch-images.js';
import { ImageStore } from '../../src/data/image-store.js';
import { IMAGENET_PREPROCESS } from '../../src/models/backbone.js';
import { Rng } from '../../src/random/rng.js';

/*
 * The seed recipe's augmentation as it was before the crop option existed, pinned by hashes recorded
 * then: its draws and the bytes of seeded batches (recorded from the ONNX batch graph the WebAssembly
 * kernel replaced, so they also pin the kernel to it bit for bit). Options added since must leave both
 * unchanged when they are off, so seeded runs (and their history.json) stay the same.
 */
const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
const size: [number, number] = [20, 24];

test("the seed recipe's draws and seeded batches are those recorded before the crop option", async () => {
  const draws = Array.from({ length: 64 }, (_, i) => drawAugment(SEED_AUGMENT, augmentRng(42, 3, i)));
  const store = new ImageStore(12, size);
  const rng = new Rng(9);
  for (let i = 0; i < store.pixels.length; i++) store.pixels[i] = rng.int(256);
  const images = await EpochImages.open(store, {
    preprocess: { ...IMAGENET_PREPROCESS, size },
    augment: SEED_AUGMENT,
    seed: 42,
    kernel: await augmentKernelModule(),
  });
  const batches = [];
  for (const epoch of [0, 1]) batches.push(await images.batch(epoch, [11, 0, 5, 3, 7, 1, 2, 4, 6, 8, 9, 10]));
  await images.release();
  const got = {
    draws: sha(JSON.stringify(draws)),
    batches: batches.map((b) => sha(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength))),
  };
  assert.deepEqual(got, {
    draws: '1df7382daa0f7456',
    batches: ['776ca15c8c815628', '372b6e0e8ba5b7d9'],
  });
});
