import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clipGradNorm } from '../../src/train/optim/clip-grad-norm.js';
import type { Param } from '../../src/train/optim/optimizer.js';

function params(...grads: number[][]): Param[] {
  return grads.map((g, j) => ({
    name: `p${j}`,
    value: new Float32Array(g.length),
    grad: Float32Array.from(g),
  }));
}

const grads = (ps: Param[]) => ps.flatMap((p) => [...p.grad]);

test('the norm spans all params and an over-long gradient is scaled to maxNorm', () => {
  const ps = params([3], [4]);
  assert.equal(clipGradNorm(ps, 1), 5);
  // Scaled by 1/(5 + 1e-6), as PyTorch does, so a hair under [0.6, 0.8].
  const [a, b] = grads(ps);
  assert.ok(Math.abs(a - 0.6) < 1e-6 && a < 0.6, `${a}`);
  assert.ok(Math.abs(b - 0.8) < 1e-6 && b < 0.8, `${b}`);
});

test('a gradient within maxNorm is left bit for bit', () => {
  const ps = params([0.1, -0.2], [0.3]);
  const before = grads(ps);
  assert.ok(Math.abs(clipGradNorm(ps, 1) - Math.sqrt(0.14)) < 1e-7);
  assert.deepEqual(grads(ps), before);
});

test('other norm types: 1, 3 and Infinity', () => {
  assert.equal(clipGradNorm(params([-3, 2], [0]), 10, 1), 5);
  assert.ok(Math.abs(clipGradNorm(params([1, -2], [2]), 10, 3) - 17 ** (1 / 3)) < 1e-12);
  const ps = params([-3, 2], [1]);
  assert.equal(clipGradNorm(ps, 1.5, Infinity), 3);
  const [a, b, c] = grads(ps);
  assert.ok(Math.abs(a + 1.5) < 1e-6 && Math.abs(b - 1) < 1e-6 && Math.abs(c - 0.5) < 1e-6);
  assert.throws(() => clipGradNorm(ps, 1, 0), /normType must be > 0/);
});

test('a non-finite norm is returned and the grads are left for the caller to skip', () => {
  const nan = params([1, NaN], [2]);
  assert.ok(Number.isNaN(clipGradNorm(nan, 1)));
  assert.deepEqual(grads(nan), [1, NaN, 2]);
  const inf = params([1, -Infinity], [2]);
  assert.equal(clipGradNorm(inf, 1), Infinity);
  assert.deepEqual(grads(inf), [1, -Infinity, 2]);
  assert.equal(clipGradNorm(params([1, Infinity]), 1, Infinity), Infinity);
});

test('no params, norm 0', () => {
  assert.equal(clipGradNorm([], 1), 0);
});
