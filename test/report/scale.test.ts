import assert from 'node:assert/strict';
import { test } from 'node:test';
import { linearScale, niceTicks, tickLabel } from '../../src/report/plots/scale.js';

test('ticks are round numbers covering the data', () => {
  assert.deepEqual(niceTicks(0, 1), { domain: [0, 1], values: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
  assert.deepEqual(niceTicks(0.05, 0.75).values, [0, 0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(0.61, 0.97).values, [0.6, 0.7, 0.8, 0.9, 1]);
  assert.deepEqual(niceTicks(0.1, 0.3, { count: 2 }).values, [0.1, 0.2, 0.3]);
});

test('epoch axes keep whole steps and the data range', () => {
  assert.deepEqual(niceTicks(1, 12, { count: 8, minStep: 1, extend: false }).values, [2, 4, 6, 8, 10, 12]);
  assert.deepEqual(niceTicks(1, 3, { count: 8, minStep: 1, extend: false }), {
    domain: [1, 3],
    values: [1, 2, 3],
    step: 1,
  });
  // One epoch: an axis around it with a single tick.
  assert.deepEqual(niceTicks(1, 1, { minStep: 1, extend: false }), {
    domain: [0.5, 1.5],
    values: [1],
    step: 1,
  });
});

test('a flat range still gets an axis', () => {
  const t = niceTicks(0.75, 0.75);
  assert.ok(t.domain[0] < 0.75 && t.domain[1] > 0.75);
});

test('tick labels carry the decimals the step needs', () => {
  assert.equal(tickLabel(0.4, 0.2), '0.4');
  assert.equal(tickLabel(0.25, 0.05), '0.25');
  assert.equal(tickLabel(10, 5), '10');
  assert.equal(tickLabel(1, 0.1), '1.0');
});

test('a linear scale maps the domain onto the range, inverted for y', () => {
  const y = linearScale([0, 1], [400, 100]);
  assert.equal(y(0), 400);
  assert.equal(y(1), 100);
  assert.equal(y(0.5), 250);
});
