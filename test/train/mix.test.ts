import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crossEntropyCoefficients, mixedCoefficients } from '../../src/autodiff/cross-entropy.js';
import { Rng } from '../../src/random/rng.js';
import { cutmixBox, mixBatch } from '../../src/train/mix.js';

const batch = (n: number, h: number, w: number) =>
  Float32Array.from({ length: n * 3 * h * w }, (_, i) => Math.floor(i / (3 * h * w)) + 1);

test('mixup: image i is λ of itself and 1 − λ of image i − 1 (the batch rolled by one)', () => {
  const x = batch(3, 2, 2);
  const m = mixBatch(x, [3, 3, 2, 2], { mixup: 0.4, cutmix: 0 }, new Rng(5));
  assert.deepEqual([...m.partner], [2, 0, 1]);
  assert.ok(m.lambda > 0 && m.lambda < 1);
  const expect = (i: number) => m.lambda * (i + 1) + (1 - m.lambda) * (m.partner[i] + 1);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(m.input[i * 12] - expect(i)) < 1e-6);
});

test("CutMix's box follows torchvision: half side √(1 − λ)/2 of the image, clipped, and λ as the share left", () => {
  // λ 0.5 on 10x10 around (3, 8): half sides trunc(3.54) = 3, so x 0..6, y 5..10: 30 pixels.
  assert.deepEqual(cutmixBox(0.5, 3, 8, 10, 10), { x0: 0, x1: 6, y0: 5, y1: 10, lambda: 0.7 });
  const x = batch(2, 10, 10);
  const m = mixBatch(x, [2, 3, 10, 10], { mixup: 0, cutmix: 1 }, new Rng(9));
  const pasted = [...m.input.subarray(0, 100)].filter((v) => v === 2).length;
  assert.equal(1 - pasted / 100, m.lambda, 'the pasted share is 1 − λ');
});

test('Beta draws have the right mean and variance; a mixed loss is λ·CE(labels) + (1 − λ)·CE(partners)', () => {
  const rng = new Rng(1);
  const xs = Array.from({ length: 20000 }, () => rng.beta(2, 5));
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mean - 2 / 7) < 0.005, `mean ${mean}`);
  assert.ok(Math.abs(variance - 10 / (49 * 8)) < 0.002, `variance ${variance}`);
  const small = Array.from({ length: 20000 }, () => rng.beta(0.2, 0.2));
  assert.ok(Math.abs(small.reduce((a, b) => a + b, 0) / small.length - 0.5) < 0.01);

  const opts = { labelSmoothing: 0.1, weights: [1, 3] };
  const k = mixedCoefficients([0, 1, 1], [1, 0, 1], 0.3, 2, opts).data;
  const a = crossEntropyCoefficients([0, 1, 1], 2, opts).data;
  const b = crossEntropyCoefficients([1, 0, 1], 2, opts).data;
  k.forEach((v, i) => assert.ok(Math.abs(v - (0.3 * a[i] + 0.7 * b[i])) < 1e-7));
});
