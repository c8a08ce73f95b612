import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/random/rng.js';
import type { Param } from '../../src/train/optim/optimizer.js';
import { SGD, type SGDOptions } from '../../src/train/optim/sgd.js';

const SIZES: [string, number][] = [
  ['conv.weight', 12],
  ['conv.bias', 3],
  ['fc.lora_B', 5],
];

/** Params in ±[0.5, 1.5), so no weight nears zero and relative errors stay meaningful, and fixed grads. */
function fixture(seed: number, steps: number) {
  const rng = new Rng(seed);
  const sign = () => (rng.next() < 0.5 ? -1 : 1);
  const init = SIZES.map(([, n]) => Float32Array.from({ length: n }, () => sign() * rng.uniform(0.5, 1.5)));
  const grads = Array.from({ length: steps }, () =>
    init.map((p) => Float32Array.from(p, () => rng.normal())),
  );
  return { init, grads };
}

function params(init: Float32Array[]): Param[] {
  return SIZES.map(([name], j) => ({ name, value: init[j].slice(), grad: new Float32Array(init[j].length) }));
}

function run(opt: SGD, ps: Param[], grads: Float32Array[][], lrs: number[]): void {
  grads.forEach((gs, t) => {
    ps.forEach((p, j) => p.grad.set(gs[j]));
    opt.step(ps, lrs[t]);
  });
}

/** torch.optim.SGD's documented algorithm, line by line, in float64. */
function reference(init: Float32Array[], grads: Float32Array[][], lrs: number[], o: Required<SGDOptions>) {
  const p = init.map((a) => Float64Array.from(a));
  const b = init.map((a) => new Float64Array(a.length));
  grads.forEach((gs, k) => {
    p.forEach((pj, j) => {
      for (let i = 0; i < pj.length; i++) {
        let g = gs[j][i] + o.weightDecay * pj[i];
        if (o.momentum !== 0) {
          b[j][i] = k === 0 ? g : o.momentum * b[j][i] + (1 - o.dampening) * g;
          g = o.nesterov ? g + o.momentum * b[j][i] : b[j][i];
        }
        pj[i] -= lrs[k] * g;
      }
    });
  });
  return { p, b };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= rel * Math.abs(expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const lrs = [0.05, 0.05, 0.04, 0.03, 0.02];
const configs: Required<SGDOptions>[] = [
  { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
  { momentum: 0, dampening: 0, weightDecay: 1e-2, nesterov: false },
  { momentum: 0.9, dampening: 0, weightDecay: 1e-2, nesterov: false },
  { momentum: 0.9, dampening: 0.3, weightDecay: 0, nesterov: false },
  { momentum: 0.8, dampening: 0, weightDecay: 1e-3, nesterov: true },
];

for (const o of configs) {
  test(`SGD ${JSON.stringify(o)} follows the float64 reference for 5 steps within 1e-6 relative`, () => {
    const { init, grads } = fixture(3, 5);
    const ps = params(init);
    const opt = new SGD(o);
    run(opt, ps, grads, lrs);
    const ref = reference(init, grads, lrs, o);
    const s = opt.stateDict();
    ps.forEach((p, j) => {
      assertClose(p.value, ref.p[j], 1e-6, p.name);
      if (o.momentum !== 0)
        assertClose(s[`${p.name}.momentum_buffer`] as Float32Array, ref.b[j], 1e-6, p.name);
    });
    if (o.momentum === 0) assert.deepEqual(s, {});
  });
}

test('SGD copies the first gradient into the buffer undampened', () => {
  // Step 1: b = 1, p = 1 − 0.25 = 0.75. Step 2: b = 0.5·1 + (1 − 0.5)·1 = 1, p = 0.5.
  // Dampening the first step as well would give b = 0.5, p = 0.875.
  const p: Param = { name: 'w', value: Float32Array.of(1), grad: Float32Array.of(1) };
  const opt = new SGD({ momentum: 0.5, dampening: 0.5 });
  opt.step([p], 0.25);
  assert.equal(p.value[0], 0.75);
  opt.step([p], 0.25);
  assert.equal(p.value[0], 0.5);
  assert.deepEqual(opt.stateDict(), { 'w.momentum_buffer': Float32Array.of(1) });
});

test('SGD leaves the grads it reads untouched', () => {
  const p: Param = { name: 'w', value: Float32Array.of(2), grad: Float32Array.of(1) };
  new SGD({ momentum: 0.9, weightDecay: 0.5, nesterov: true }).step([p], 0.125);
  assert.deepEqual(p.grad, Float32Array.of(1));
});

test('SGD momentum survives stateDict/loadStateDict with an identical trajectory', () => {
  const { init, grads } = fixture(5, 6);
  const o = { momentum: 0.9, dampening: 0.1 };
  const a = new SGD(o);
  const pa = params(init);
  run(a, pa, grads.slice(0, 3), lrs);
  const saved = a.stateDict();
  const pb = pa.map((p) => ({ ...p, value: p.value.slice(), grad: p.grad.slice() }));
  run(a, pa, grads.slice(3), lrs);
  const b = new SGD(o);
  b.loadStateDict(saved);
  run(b, pb, grads.slice(3), lrs);
  pa.forEach((p, j) => assert.deepEqual(pb[j].value, p.value, p.name));
  assert.deepEqual(b.stateDict(), a.stateDict());
});

test('SGD rejects what PyTorch rejects and state of the wrong shape', () => {
  assert.throws(
    () => new SGD({ nesterov: true }),
    /Nesterov momentum requires a momentum and zero dampening/,
  );
  assert.throws(() => new SGD({ momentum: 0.9, dampening: 0.1, nesterov: true }), /Nesterov/);
  assert.throws(() => new SGD({ momentum: -1 }), RangeError);
  assert.throws(() => new SGD().loadStateDict({ 'w.step': 1 }), /got key "w.step"/);
  const opt = new SGD({ momentum: 0.9 });
  opt.loadStateDict({ 'w.momentum_buffer': new Float32Array(2) });
  const w = { name: 'w', value: new Float32Array(3), grad: new Float32Array(3) };
  assert.throws(() => opt.step([w], 0.1), /param "w": optimizer state has 2 elements, param has 3/);
});
