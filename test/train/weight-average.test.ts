import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WeightAverage, withValues } from '../../src/train/weight-average.js';

const params = (v: number[]) => new Map([['w', { data: Float32Array.from(v) }]]);

test('EMA: avg ← decay·avg + (1 − decay)·param after each step, from the initial values', () => {
  const p = params([1, -2]);
  const ema = WeightAverage.start('ema', 0.9, p);
  const steps = [
    [2, 0],
    [4, 4],
    [0, 1],
  ];
  let expected = [1, -2];
  for (const v of steps) {
    p.get('w')!.data.set(v);
    ema.update(p);
    expected = expected.map((e, i) => 0.9 * e + 0.1 * v[i]);
  }
  const got = [...ema.values.get('w')!];
  got.forEach((g, i) => assert.ok(Math.abs(g - expected[i]) < 1e-6, `${g} vs ${expected[i]}`));
  assert.equal(ema.count, 3);
  assert.throws(() => WeightAverage.start('ema', 1, p), /decay 1 must be in \(0, 1\)/);
});

test('SWA: the running mean of the values it is given, exactly the arithmetic mean', () => {
  const p = params([0, 0]);
  const swa = new WeightAverage('swa', 0, new Map([['w', new Float32Array(2)]]));
  const snapshots = [
    [1, 10],
    [2, 20],
    [6, 60],
  ];
  for (const v of snapshots) {
    p.get('w')!.data.set(v);
    swa.update(p);
  }
  assert.deepEqual([...swa.values.get('w')!], [3, 30]);
});

test('withValues swaps values in for the work and puts the trainables back, even on failure', async () => {
  const p = params([1, 2]);
  const seen = await withValues(p, new Map([['w', Float32Array.from([7, 8])]]), async () => [
    ...p.get('w')!.data,
  ]);
  assert.deepEqual(seen, [7, 8]);
  assert.deepEqual([...p.get('w')!.data], [1, 2]);
  await assert.rejects(
    withValues(p, new Map([['w', Float32Array.from([9, 9])]]), async () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual([...p.get('w')!.data], [1, 2]);
});
