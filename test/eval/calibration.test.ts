import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibration } from '../../src/eval/calibration.js';
import { bestThreshold } from '../../src/jobs/cv.js';

test('calibration bins as sklearn calibration_curve(n_bins=10, strategy="uniform"), and their ECE', () => {
  // scikit-learn bins these as searchsorted(linspace(0, 1, 11)[1:-1], p): 0.1 on an edge goes down
  // to bin 0, and 0.3 too, as 3·0.1 = 0.30000000000000004 > 0.3.
  const labels = [0, 0, 1, 1, 1, 0];
  const probs = [0.1, 0.3, 0.4, 0.75, 0.95, 0.1];
  const c = calibration(labels, probs);
  const filled = c.bins.filter((b) => b.count > 0);
  assert.deepEqual(
    filled.map((b) => [b.lo, b.count]),
    [
      [0, 2],
      [0.2, 1],
      [0.30000000000000004, 1],
      [0.7000000000000001, 1],
      [0.9, 1],
    ],
  );
  assert.deepEqual(
    filled.map((b) => b.observed),
    [0, 0, 1, 1, 1],
  );
  const expected = (2 * 0.1 + 1 * 0.3 + 1 * 0.6 + 1 * 0.25 + 1 * 0.05) / 6;
  assert.ok(Math.abs(c.ece - expected) < 1e-12, `${c.ece} vs ${expected}`);
  // p = 1 belongs to the last bin.
  assert.equal(calibration([1], [1]).bins[9].count, 1);
});

test('bestThreshold finds the accuracy-maximising cut between two scores', () => {
  assert.deepEqual(bestThreshold([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.35, 0.6, 0.9]), {
    threshold: 0.25,
    accuracy: 5 / 6,
  });
  assert.deepEqual(bestThreshold([1, 1], [0.2, 0.3]), { threshold: 0, accuracy: 1 });
});
