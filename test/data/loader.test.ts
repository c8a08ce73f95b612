import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { SEED_AUGMENT } from '../../src/data/augment.js';
import { checkImages } from '../../src/data/check-images.js';
import { discoverDataset } from '../../src/data/dataset.js';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';
import { labelFromFileName } from '../../src/data/labels.js';
import { type Batch, BatchLoader, type LoaderOptions } from '../../src/data/loader.js';
import { augmentKernelModule } from '../../src/data/augment-kernel-file.js';
import { MemoryBatches } from '../../src/data/memory-batches.js';
import type { Sample } from '../../src/data/sample.js';
import { IMAGENET_PREPROCESS, type Preprocess } from '../../src/models/backbone.js';
import { sharedPath } from '../helpers/shared.js';
import { encode, put, tempDir } from './fixtures.js';

const dir = tempDir('smoker-loader-');
const preprocess: Preprocess = { ...IMAGENET_PREPROCESS, size: [16, 16] };

/** Ten 40x30 images with different content, labelled by name. */
const samples: Promise<Sample[]> = (async () => {
  for (let i = 0; i < 10; i++) {
    const name = `${i % 3 === 0 ? 'notsmoking' : 'smoking'}_${i}.png`;
    put(
      dir,
      `all/${name}`,
      await encode(40, 30, (x, y, c) => (x * (i + 1) * 7 + y * 11 + c * 60 + i * 25) & 255),
    );
  }
  return discoverDataset(join(dir, 'all'), { seed: 1, splitFractions: [1, 0, 0] }).splits.train;
})();

async function drain<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function collect(opts: Partial<LoaderOptions>, epochs = [0]): Promise<Batch[][]> {
  const loader = await BatchLoader.open({ samples: await samples, preprocess, batchSize: 4, ...opts });
  try {
    const out: Batch[][] = [];
    for (const e of epochs) {
      out.push(await drain(loader.epoch(e)));
    }
    return out;
  } finally {
    await loader.close();
  }
}

test('eval batches: [N,3,H,W], last batch short, labels follow paths, pixels = decodeResized + toCHW', async () => {
  const [batches] = await collect({});
  assert.deepEqual(
    batches.map((b) => b.input.shape),
    [
      [4, 3, 16, 16],
      [4, 3, 16, 16],
      [2, 3, 16, 16],
    ],
  );
  const paths = batches.flatMap((b) => b.paths);
  assert.deepEqual(
    paths,
    (await samples).map((s) => s.path),
    'no shuffle: data set order',
  );
  for (const b of batches) {
    assert.deepEqual(
      [...b.labels],
      b.paths.map((p) => labelFromFileName(basename(p))),
    );
    for (const [k, path] of b.paths.entries()) {
      const want = toCHW((await decodeResized(path, preprocess.size)).rgb, preprocess.size, preprocess);
      assert.deepEqual(b.input.data.subarray(k * want.length, (k + 1) * want.length), want, path);
    }
  }
});

test('augmented batches are identical for any thread count, prefetch depth and worker count', async () => {
  const opts = { augment: SEED_AUGMENT, shuffle: true, seed: 7 };
  const a = await collect({ ...opts, threads: 1, prefetch: 0 }, [0, 1]);
  assert.deepEqual(await collect({ ...opts, threads: 2, prefetch: 3 }, [0, 1]), a);
  assert.deepEqual(await collect({ ...opts, workers: 1 }, [0, 1]), a);
  // More workers than a short batch has images; and batches in flight on the workers at once.
  assert.deepEqual(await collect({ ...opts, workers: 4, prefetch: 2 }, [0, 1]), a);
  const plain = await collect({ shuffle: true, seed: 7 }, [0]);
  assert.deepEqual(plain[0][0].paths, a[0][0].paths, 'augmentation does not change the order');
  assert.notDeepEqual(plain[0][0].input.data, a[0][0].input.data, 'but changes the pixels');
  assert.notDeepEqual(
    a[0][0].input.data,
    a[1].flat().find((x) => x.paths[0] === a[0][0].paths[0])?.input.data,
  );
});

for (const [name, extra] of [
  ['RandomResizedCrop', { cropScale: [0.5, 1] as [number, number] }],
  ['TrivialAugment', { trivialAugment: true }],
] as const)
  test(`with ${name}: the same seed gives the same batches, another seed others, the order unchanged`, async () => {
    const opts = { augment: { ...SEED_AUGMENT, ...extra }, shuffle: true };
    const a = await collect({ ...opts, seed: 7, threads: 1 }, [0, 1]);
    assert.deepEqual(await collect({ ...opts, seed: 7, threads: 2, prefetch: 2 }, [0, 1]), a);
    assert.deepEqual(await collect({ ...opts, seed: 7, workers: 2 }, [0, 1]), a);
    const other = await collect({ ...opts, seed: 8 }, [0]);
    const without = await collect({ augment: SEED_AUGMENT, shuffle: true, seed: 7 }, [0]);
    assert.deepEqual(without[0][0].paths, a[0][0].paths, `${name} does not change the order`);
    assert.notDeepEqual(without[0][0].input.data, a[0][0].input.data, 'but changes the pixels');
    assert.notDeepEqual(other[0][0].input.data, a[0][0].input.data);
  });

test('a recycled batch is written again: the same batches as fresh memory gives, in its memory', async () => {
  const opts = { augment: SEED_AUGMENT, shuffle: true, seed: 7 };
  const want = await collect(opts, [0, 1]);
  for (const workers of [0, 1]) {
    const loader = await BatchLoader.open({
      samples: await samples,
      preprocess,
      batchSize: 4,
      ...opts,
      workers,
    });
    try {
      for (const [e, epoch] of want.entries()) {
        const got: Batch[] = [];
        const memory = new Set<ArrayBufferLike>();
        for await (const b of loader.epoch(e)) {
          got.push({ ...b, input: { ...b.input, data: b.input.data.slice() } });
          memory.add(b.input.data.buffer);
          loader.recycle(b);
        }
        assert.deepEqual(got, epoch, `epoch ${e}, ${workers} workers`);
        // Two full batches in one memory; the short last one needs its own.
        assert.equal(memory.size, 2, `epoch ${e}, ${workers} workers`);
      }
    } finally {
      await loader.close();
    }
  }
});

test('an image is augmented the same whatever batch it is served in', async () => {
  const opts = { augment: SEED_AUGMENT, shuffle: true, seed: 7 };
  const byImage = (epoch: Batch[]) =>
    new Map(
      epoch.flatMap((b) => {
        const per = b.input.data.length / b.labels.length;
        return b.paths.map((p, i) => [p, b.input.data.slice(i * per, (i + 1) * per)] as const);
      }),
    );
  const [[whole]] = await collect({ ...opts, batchSize: 10 });
  const one = await collect({ ...opts, batchSize: 1 });
  assert.equal(whole.labels.length, 10);
  assert.deepEqual(byImage([whole]), byImage(one[0]));
});

test("MemoryBatches (the browser's worker) serves the loader's batches from the same decoded images", async () => {
  const opts = { preprocess, batchSize: 4, augment: SEED_AUGMENT, shuffle: true, seed: 7 };
  const want = await collect(opts, [0, 1]);
  const checked = await checkImages(await samples, { onBadImage: 'fail', size: preprocess.size });
  const kernel = await augmentKernelModule();
  const memory = await MemoryBatches.open(
    checked.images,
    Int32Array.from(checked.samples, (s) => s.label),
    checked.samples.map((s) => s.path),
    { ...opts, kernel },
  );
  try {
    assert.equal(memory.batchesPerEpoch, 3);
    assert.deepEqual([await drain(memory.epoch(0)), await drain(memory.epoch(1))], want);
    assert.deepEqual(await drain(memory.epoch(1, 2)), want[1].slice(2));
    // Recycled as the trainer does: the same batches, the full ones in one memory.
    const got: Batch[] = [];
    const buffers = new Set<ArrayBufferLike>();
    for await (const b of memory.epoch(0)) {
      got.push({ ...b, input: { ...b.input, data: b.input.data.slice() } });
      buffers.add(b.input.data.buffer);
      memory.recycle(b);
    }
    assert.deepEqual(got, want[0]);
    assert.equal(buffers.size, 2);
  } finally {
    await memory.release();
  }
  await assert.rejects(
    MemoryBatches.open(checked.images, new Int32Array(3), [], { ...opts, kernel }),
    /^Error: MemoryBatches: 10 images, 3 labels, 0 names$/,
  );
});

test('shuffling is seeded per epoch: a new order each epoch, the same for the same seed', async () => {
  const n = (await samples).length;
  const orders = async (seed: number) => {
    const loader = await BatchLoader.open({
      samples: await samples,
      preprocess,
      batchSize: 4,
      shuffle: true,
      seed,
    });
    await loader.close();
    return [0, 1, 2].map((e) => loader.order(e));
  };
  const [a, again, other] = [await orders(3), await orders(3), await orders(4)];
  assert.deepEqual(a, again);
  assert.notDeepEqual(a[0], a[1]);
  assert.notDeepEqual(a[0], other[0]);
  for (const order of a)
    assert.deepEqual(
      [...order].sort((x, y) => x - y),
      [...Array(n).keys()],
    );
  const [batches] = await collect({ shuffle: true, seed: 3 });
  const all = await samples;
  assert.deepEqual(
    batches.flatMap((b) => b.paths),
    a[0].map((i) => all[i].path),
  );
});

test("bad images: 'fail' refuses to open, 'skip' serves the rest and lists the skipped", async () => {
  const good = await samples;
  const broken = { path: put(dir, 'smoking_broken.jpg', 'not a jpeg'), label: 1 };
  const all = [good[0], broken, good[1]];
  await assert.rejects(BatchLoader.open({ samples: all, preprocess, batchSize: 2 }), {
    message: new RegExp(`^${broken.path}: not an image, or a format that cannot be read; remove or replace`),
  });
  const loader = await BatchLoader.open({ samples: all, preprocess, batchSize: 2, onBadImage: 'skip' });
  try {
    assert.deepEqual(loader.samples, [good[0], good[1]]);
    assert.deepEqual(loader.skipped, [
      { path: broken.path, reason: 'not an image, or a format that cannot be read' },
    ]);
    const [batch] = await drain(loader.epoch(0));
    assert.deepEqual(batch.paths, [good[0].path, good[1].path]);
  } finally {
    await loader.close();
  }
});

test('bad settings are refused before any work', async () => {
  const base = { samples: await samples, preprocess, batchSize: 4 };
  await assert.rejects(BatchLoader.open({ ...base, batchSize: 0 }), {
    message: 'loader: batchSize must be an integer ≥ 1, got 0',
  });
  await assert.rejects(BatchLoader.open({ ...base, augment: { ...SEED_AUGMENT, hflip: 2 } }), {
    message: 'augmentation: hflip 2 must be a probability in [0, 1]',
  });
});

test('pre-checked images are reused, waiting time is counted, stopping early is clean', async () => {
  const checked = await checkImages(await samples, { onBadImage: 'fail', size: preprocess.size });
  const loader = await BatchLoader.open({
    samples: await samples,
    preprocess,
    batchSize: 3,
    checked,
  });
  try {
    assert.equal(loader.decodeMs, 0);
    assert.equal(loader.batchesPerEpoch, 4);
    for await (const b of loader.epoch(0)) {
      assert.equal(b.labels.length, 3);
      break; // the prefetched batches are dropped without unhandled rejections
    }
    assert.ok(loader.waitMs > 0 && Number.isFinite(loader.waitMs));
    const all = await drain(loader.epoch(1));
    assert.equal(all.length, 4);
    assert.deepEqual(await drain(loader.epoch(1, 2)), all.slice(2), 'resuming mid-epoch');
    assert.deepEqual(await drain(loader.epoch(1, 4)), []);
    await assert.rejects(drain(loader.epoch(1, 5)), { message: 'loader: fromBatch 5 is not in [0, 4]' });
  } finally {
    await loader.close();
  }
  await assert.rejects(drain(loader.epoch(0)), { message: 'loader: closed' });
});

test('a process that never closes its loader still exits', async () => {
  const loaderUrl = new URL('../../src/data/loader.js', import.meta.url).href;
  const script = put(
    dir,
    'forgetful.mjs',
    `import { BatchLoader } from '${loaderUrl}';
const samples = ${JSON.stringify((await samples).slice(0, 4))};
const loader = await BatchLoader.open({ samples, preprocess: ${JSON.stringify(preprocess)}, batchSize: 2, workers: 1 });
for await (const b of loader.epoch(0)) console.log(b.input.shape.join('x'));
// Its last batch, of one image, is this thread's alone: the worker has no share of it.
const short = await BatchLoader.open({ samples, preprocess: ${JSON.stringify(preprocess)}, batchSize: 3, workers: 1 });
for await (const b of short.epoch(0)) console.log(b.input.shape.join('x'));`,
  );
  const out = execFileSync(process.execPath, [script], { timeout: 20_000, encoding: 'utf8' });
  assert.equal(out, '2x3x16x16\n2x3x16x16\n3x3x16x16\n1x3x16x16\n');
});

const real = sharedPath('data/smoking');
test('batches from the real Training folder', { skip: real.skip }, async () => {
  // Every 12th image keeps the test to about a second.
  const train = discoverDataset(real.path, { seed: 1 }).splits.train.filter((_, i) => i % 12 === 0);
  const open = (o: Partial<LoaderOptions>) =>
    BatchLoader.open({ samples: train, preprocess: IMAGENET_PREPROCESS, batchSize: 16, ...o });
  const evalLoader = await open({});
  const [first] = await drain(evalLoader.epoch(0));
  await evalLoader.close();
  assert.deepEqual(first.input.shape, [16, 3, 224, 224]);
  assert.deepEqual(
    [...first.labels],
    first.paths.map((p) => labelFromFileName(basename(p))),
  );
  const size = IMAGENET_PREPROCESS.size;
  const want = toCHW((await decodeResized(first.paths[5], size)).rgb, size, IMAGENET_PREPROCESS);
  assert.deepEqual(first.input.data.subarray(5 * want.length, 6 * want.length), want);

  const batches = async (threads: number) => {
    const loader = await open({ threads, augment: SEED_AUGMENT, shuffle: true, seed: 5 });
    try {
      return await drain(loader.epoch(0));
    } finally {
      await loader.close();
    }
  };
  const [one, two] = [await batches(1), await batches(2)];
  assert.deepEqual(
    one.map((b) => b.input.shape[0]),
    [16, 16, 16, 12],
  );
  assert.deepEqual(one, two);
  assert.ok(one[0].input.data.every(Number.isFinite));
});
