import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SweepRow } from '../../src/jobs/sweep.js';
import { linesOf, readJson, runCli, tinyFixture } from './cli-fixture.js';

test('sweep --ranks 2,4 trains both, prints a table with both rows and writes sweep.json', async () => {
  const f = await tinyFixture();
  const out = join(f.root, 'sweep');
  const r = await runCli([
    'sweep',
    ...['--data', f.data, '--backbone', 'resnet18', '--weights', f.weights, '--out', out],
    ...['--ranks', '2,4', '--epochs', '1', '--batch', '8', '--threads', '2', '--seed', '1'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  const lines = linesOf(r.stdout);
  assert.ok(lines.includes(`[1/2] rank=2 -> ${join(out, 'rank-2')}`), r.stdout);
  assert.ok(lines.includes(`[2/2] rank=4 -> ${join(out, 'rank-4')}`), r.stdout);

  const rows = readJson(join(out, 'sweep.json')) as SweepRow[];
  assert.deepEqual(
    rows.map((row) => row.name),
    ['rank=2', 'rank=4'],
  );
  for (const row of rows) {
    assert.ok(row.valAcc >= 0 && row.valAcc <= 1 && row.f1 >= 0 && row.f1 <= 1);
    assert.equal(row.bestEpoch, 1);
    // The run folder's metrics are the row's.
    const m = readJson(join(out, row.name.replace('=', '-'), 'metrics.json')) as { accuracy: number };
    assert.equal(m.accuracy, row.valAcc);
    assert.ok(existsSync(join(out, row.name.replace('=', '-'), 'model.onnx')));
  }
  // LoRA parameters grow with the rank; the head (2x512 + 2) does not.
  const head = 2 * 512 + 2;
  assert.equal(rows[1].trainable - head, 2 * (rows[0].trainable - head));

  // The final table: a header and one row per setting, numbers as in sweep.json.
  const at = lines.lastIndexOf(lines.find((l) => l.startsWith('setting'))!);
  const table = lines.slice(at);
  assert.equal(table.length, 3, r.stdout);
  assert.match(table[0], /^setting +val acc +val F1 +ROC-AUC +best epoch +trainable +time$/);
  rows.forEach((row, i) => {
    const cells = table[i + 1].trim().split(/ {2,}/);
    assert.deepEqual(cells.slice(0, 6), [
      row.name,
      row.valAcc.toFixed(4),
      row.f1.toFixed(4),
      row.auc?.toFixed(4) ?? '-',
      '1',
      row.trainable.toLocaleString('en-US'),
    ]);
  });
});
