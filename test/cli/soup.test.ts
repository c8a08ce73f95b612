import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { toFloat32 } from '../../src/graph/tensor.js';
import { readJson, runCli, tinyFixture, trainArgs } from './cli-fixture.js';

/* `soup` for real: two seeds of one recipe on the tiny set, souped, then used as a run. */

const weightsOf = (dir: string) => {
  const g = fromOnnxBytes(readFileSync(join(dir, 'model.onnx')), dir);
  return new Map([...g.initializers].map(([name, t]) => [name, toFloat32(t).data]));
};

test('soup: every weight of the soup is the mean of the runs’ merged weights, and it evaluates as a run', async () => {
  const f = await tinyFixture();
  const [a, b, soup] = ['seed-1', 'seed-2', 'soup'].map((n) => join(f.root, n));
  for (const [out, seed] of [
    [a, '1'],
    [b, '2'],
  ]) {
    const r = await runCli(trainArgs(f, out, ['--seed', seed]));
    assert.equal(r.code, 0, r.stderr);
  }
  const r = await runCli(['soup', a, b, '--out', soup]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /soup of 2 runs/);

  // W + mean(ΔW) = mean(W + ΔW): the runs' own model.onnx files are the reference.
  const [wa, wb, ws] = [a, b, soup].map(weightsOf);
  assert.deepEqual([...ws.keys()].sort(), [...wa.keys()].sort());
  let differing = 0;
  for (const [name, s] of ws) {
    const [x, y] = [wa.get(name)!, wb.get(name)!];
    if (x.some((v, i) => v !== y[i])) differing++;
    const worst = s.reduce((m, v, i) => Math.max(m, Math.abs(v - (x[i] + y[i]) / 2)), 0);
    assert.ok(worst < 1e-6, `${name}: off the mean by ${worst}`);
  }
  assert.ok(differing >= 3, `the two seeds differ in the adapted convs and the head (${differing} tensors)`);
  const info = readJson(join(soup, 'config.json')) as { soupOf: string[]; rank: number };
  assert.deepEqual(info.soupOf, [a, b]);

  const ev = await runCli([
    'evaluate',
    '--model',
    soup,
    '--data',
    f.data,
    '--out',
    join(f.root, 'soup-eval'),
  ]);
  assert.equal(ev.code, 0, ev.stderr);
  const m = readJson(join(f.root, 'soup-eval', 'metrics.json')) as { accuracy: number };
  assert.ok(m.accuracy >= 0 && m.accuracy <= 1);

  const exported = join(f.root, 'soup-fp16');
  const ex = await runCli(['export', '--model', soup, '--format', 'onnx-fp16', '--out', exported]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.match(
    readFileSync(join(exported, 'README.md'), 'utf8'),
    /A soup of 2 such runs \(`seed-1`, `seed-2`\)/,
  );
});

test('soup refuses, in one line each: one run, another network, an unfinished run, a full --out, a soup, a PEFT export', async () => {
  const f = await tinyFixture();
  const [a, b, rank2, soup] = ['r-a', 'r-b', 'r-rank2', 'r-soup'].map((n) => join(f.root, n));
  for (const [out, extra] of [
    [a, ['--seed', '3']],
    [b, ['--seed', '4']],
    [rank2, ['--rank', '2']],
  ] as const) {
    const r = await runCli(trainArgs(f, out, [...extra]));
    assert.equal(r.code, 0, r.stderr);
  }
  const refused = async (args: string[], pattern: RegExp) => {
    const r = await runCli(args);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  };
  await refused(['soup', a, '--out', soup], /give two or more run folders/);
  await refused(['soup', a, rank2, '--out', soup], /has another rank than .* soup runs of one network/);
  const unfinished = join(f.root, 'r-unfinished');
  mkdirSync(unfinished);
  copyFileSync(join(a, 'config.json'), join(unfinished, 'config.json'));
  await refused(['soup', a, unfinished, '--out', soup], /is not a finished run/);

  const ok = await runCli(['soup', a, b, '--out', soup]);
  assert.equal(ok.code, 0, ok.stderr);
  const before = statSync(join(soup, 'model.onnx')).mtimeMs;
  await refused(['soup', b, a, '--out', soup], /holds a run already/);
  assert.equal(statSync(join(soup, 'model.onnx')).mtimeMs, before, 'the first soup is kept');
  await refused(
    ['soup', soup, a, '--out', join(f.root, 'r-soup2')],
    /is a soup itself .* give its runs instead/,
  );
  await refused(
    ['export', '--model', soup, '--format', 'peft', '--out', join(f.root, 'r-peft')],
    /is a soup, whose merged update .* export one of its runs/,
  );
});
