import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../../src/random/rng.js';
import { AdamW, type AdamWOptions } from '../../src/train/optim/adamw.js';
import type { Param } from '../../src/train/optim/optimizer.js';

const SIZES: [string, number][] = [
  ['conv.weight', 12],
  ['conv.bias', 3],
  ['fc.lora_A', 5],
];

/** Params in ±[0.5, 1.5), so no weight nears zero and relative errors stay meaningful, and a fixed grad
 * sequence spanning magnitudes 1e-3..10. */
function fixture(seed: number, steps: number) {
  const rng = new Rng(seed);
  const sign = () => (rng.next() < 0.5 ? -1 : 1);
  const init = SIZES.map(([, n]) => Float32Array.from({ length: n }, () => sign() * rng.uniform(0.5, 1.5)));
  const grads = Array.from({ length: steps }, () =>
    init.map((p) => Float32Array.from(p, () => rng.normal() * 10 ** rng.uniform(-3, 1))),
  );
  return { init, grads };
}

function params(init: Float32Array[]): Param[] {
  return SIZES.map(([name], j) => ({ name, value: init[j].slice(), grad: new Float32Array(init[j].length) }));
}

function run(opt: AdamW, ps: Param[], grads: Float32Array[][], lrs: number[]): void {
  grads.forEach((gs, t) => {
    ps.forEach((p, j) => p.grad.set(gs[j]));
    opt.step(ps, lrs[t]);
  });
}

/** torch.optim.AdamW's documented algorithm, line by line, in float64. */
function reference(init: Float32Array[], grads: Float32Array[][], lrs: number[], o: Required<AdamWOptions>) {
  const [b1, b2] = o.betas;
  const p = init.map((a) => Float64Array.from(a));
  const m = init.map((a) => new Float64Array(a.length));
  const v = init.map((a) => new Float64Array(a.length));
  grads.forEach((gs, k) => {
    const t = k + 1;
    const lr = lrs[k];
    p.forEach((pj, j) => {
      for (let i = 0; i < pj.length; i++) {
        const g = gs[j][i];
        pj[i] -= lr * o.weightDecay * pj[i];
        m[j][i] = b1 * m[j][i] + (1 - b1) * g;
        v[j][i] = b2 * v[j][i] + (1 - b2) * g * g;
        const mHat = m[j][i] / (1 - b1 ** t);
        const vHat = v[j][i] / (1 - b2 ** t);
        pj[i] -= (lr * mHat) / (Math.sqrt(vHat) + o.eps);
      }
    });
  });
  return { p, m, v };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= rel * Math.abs(expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const configs: { label: string; lrs: number[]; o: Required<AdamWOptions> }[] = [
  {
    label: 'defaults',
    lrs: [1e-2, 1e-2, 8e-3, 5e-3, 2e-3],
    o: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 },
  },
  {
    label: 'project',
    lrs: [1e-3, 1e-3, 1e-3, 1e-3, 1e-3],
    o: { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-4 },
  },
  {
    label: 'custom',
    lrs: [3e-2, 2e-2, 1e-2, 1e-2, 1e-2],
    o: { betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 },
  },
];

for (const { label, lrs, o } of configs) {
  test(`AdamW (${label}) follows the float64 reference for 5 steps within 1e-6 relative`, () => {
    const { init, grads } = fixture(7, 5);
    const ps = params(init);
    const opt = new AdamW(o);
    run(opt, ps, grads, lrs);
    const ref = reference(init, grads, lrs, o);
    const s = opt.stateDict();
    ps.forEach((p, j) => {
      assertClose(p.value, ref.p[j], 1e-6, p.name);
      assertClose(s[`${p.name}.exp_avg`] as Float32Array, ref.m[j], 1e-6, `${p.name}.exp_avg`);
      assertClose(s[`${p.name}.exp_avg_sq`] as Float32Array, ref.v[j], 1e-6, `${p.name}.exp_avg_sq`);
      assert.equal(s[`${p.name}.step`], 5);
    });
  });
}

test('the first AdamW step moves each weight by exactly lr·sign(g) after the decay', () => {
  // Bias correction makes step 1 lr·g/(|g| + ε). lr = 2⁻⁷ and λ = 2⁻³ make the decayed 1 exactly
  // 1 − 2⁻¹⁰ = 1023/1024, and ± 2⁻⁷ = 8/1024 is exact too; ε's share is far below float32 resolution.
  // A zero grad leaves only the decay (m = 0, and ε keeps 0/0 away).
  const p: Param = {
    name: 'w',
    value: Float32Array.of(1, 1, 1, 1, 1),
    grad: Float32Array.of(4, -0.5, 1000, -100, 0),
  };
  new AdamW({ weightDecay: 0.125 }).step([p], 2 ** -7);
  assert.deepEqual(
    [...p.value].map((x) => x * 1024),
    [1015, 1031, 1015, 1031, 1023],
  );
});

test('AdamW adds ε to √v̂, not inside the root or before bias correction', () => {
  // With |g| = ε/10 the first step is lr·g/(|g| + ε) = lr/11. ε inside the root would give lr·1e-5, and ε
  // added before dividing by √(1 − β2) about lr/317.
  const p: Param = { name: 'w', value: Float32Array.of(1), grad: Float32Array.of(1e-9) };
  new AdamW({ weightDecay: 0 }).step([p], 1e-2);
  assert.ok(Math.abs(p.value[0] - (1 - 1e-2 / 11)) < 1e-7, `${p.value[0]}`);
});

test('AdamW decay is quantised to float32 as in PyTorch', () => {
  // 1 − 1e-3·1e-4 rounds to 1 − 2⁻²³ as a float32 scalar, and 1.75·(1 − 2⁻²³) to 1.75 − 2⁻²²; exact
  // float64 decay would round to 1.75 − 2⁻²³ instead.
  const p: Param = { name: 'w', value: Float32Array.of(1.75), grad: Float32Array.of(0) };
  new AdamW({ weightDecay: 1e-4 }).step([p], 1e-3);
  assert.equal(p.value[0], 1.75 - 2 ** -22);
});

test('AdamW state survives stateDict/loadStateDict with an identical trajectory', () => {
  const { init, grads } = fixture(11, 6);
  const lrs = [1e-2, 9e-3, 8e-3, 7e-3, 6e-3, 5e-3];
  const a = new AdamW({ weightDecay: 1e-4 });
  const pa = params(init);
  run(a, pa, grads.slice(0, 3), lrs);
  const saved = a.stateDict();
  const pb = pa.map((p) => ({ ...p, value: p.value.slice(), grad: p.grad.slice() }));
  // Stepping a after the snapshot must not leak into it: the dict holds copies.
  run(a, pa, grads.slice(3), lrs.slice(3));
  const b = new AdamW({ weightDecay: 1e-4 });
  b.loadStateDict(saved);
  run(b, pb, grads.slice(3), lrs.slice(3));
  pa.forEach((p, j) => assert.deepEqual(pb[j].value, p.value, p.name));
  assert.deepEqual(b.stateDict(), a.stateDict());
  assert.deepEqual(
    Object.keys(saved).sort(),
    SIZES.flatMap(([n]) => [`${n}.exp_avg`, `${n}.exp_avg_sq`, `${n}.step`]).sort(),
  );
});

test('AdamW rejects malformed state and mismatched params with the param name', () => {
  const opt = new AdamW();
  assert.throws(
    () => opt.loadStateDict({ 'w.step': 1, 'w.exp_avg': new Float32Array(2) }),
    /malformed state for param "w"/,
  );
  assert.throws(
    () =>
      opt.loadStateDict({
        'w.step': 1,
        'w.exp_avg': new Float32Array(2),
        'w.exp_avg_sq': new Float32Array(2),
        x: 3,
      }),
    /expected only/,
  );
  opt.loadStateDict({ 'w.step': 1, 'w.exp_avg': new Float32Array(2), 'w.exp_avg_sq': new Float32Array(2) });
  const w = { name: 'w', value: new Float32Array(3), grad: new Float32Array(3) };
  assert.throws(() => opt.step([w], 1e-3), /param "w": optimizer state has 2 elements, param has 3/);
  assert.throws(
    () =>
      opt.step(
        [
          { ...w, name: 'u' },
          { ...w, name: 'u' },
        ],
        1e-3,
      ),
    /duplicate param name "u"/,
  );
  assert.throws(() => opt.step([{ ...w, grad: new Float32Array(1) }], 1e-3), /grad has 1 elements/);
});

test('an AdamW step over 465k params (printed, not asserted)', (t) => {
  const rng = new Rng(1);
  const ps = [400_000, 60_000, 5_000].map((n, j) => ({
    name: `p${j}`,
    value: rng.uniformArray(n, -1, 1),
    grad: rng.uniformArray(n, -1, 1),
  }));
  const opt = new AdamW({ weightDecay: 1e-4 });
  for (let i = 0; i < 5; i++) opt.step(ps, 1e-3);
  const steps = 20;
  const start = performance.now();
  for (let i = 0; i < steps; i++) opt.step(ps, 1e-3);
  t.diagnostic(`AdamW step over 465k params: ${((performance.now() - start) / steps).toFixed(2)} ms`);
  assert.ok(ps.every((p) => p.value.every(Number.isFinite)));
});
