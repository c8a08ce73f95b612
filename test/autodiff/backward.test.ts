import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendBackward } from '../../src/autodiff/backward.js';
import { isStopGradient, stopGradient } from '../../src/autodiff/stop-gradient.js';
import { attr, Graph } from '../../src/graph/ir.js';
import { f32 } from '../../src/graph/tensor.js';
import { probeShapes } from '../../src/runtime/probe-shapes.js';
import { Session } from '../../src/runtime/session.js';
import { gradCheck, randomInput } from '../helpers/grad-check.js';

test('parameters whose gradients are one value (Add passes dY through) get distinct gradient outputs', async () => {
  const g = new Graph();
  for (const p of ['p1', 'p2']) g.inputs.push({ name: p, dtype: 'float32', shape: [2, 3] });
  const r = g.constant(f32([2, 3], [1, -2, 3, -4, 5, -6]), 'R');
  const sum = g.op('Add', ['p1', 'p2'], {}, 'add');
  const loss = g.op('ReduceSum', [g.op('Mul', [r, sum], {}, 'mul')], { keepdims: attr.int(0) }, 'loss');
  const grads = appendBackward(g, { loss, wrt: ['p1', 'p2'], shapes: await probeShapes(g) });
  const [d1, d2] = [grads.get('p1')!, grads.get('p2')!];
  assert.notEqual(d1, d2);
  assert.equal(g.producers().get(d2)?.op, 'Identity');
  assert.deepEqual(g.producers().get(d2)?.inputs, [d1]);

  g.outputs = [d1, d2].map((name) => ({ name, dtype: 'float32' as const, shape: [2, 3] }));
  const out = await (await Session.create(g)).run({ p1: randomInput([2, 3], 1), p2: randomInput([2, 3], 2) });
  assert.deepEqual([...out[d1].data], [1, -2, 3, -4, 5, -6]);
  assert.deepEqual([...out[d2].data], [1, -2, 3, -4, 5, -6]);
});

test('stopGradient is x forward and a constant backward, as detach: d/dx sum(R·x·stop(x)) = R·x', async () => {
  const g = new Graph();
  g.inputs.push({ name: 'x', dtype: 'float32', shape: [2, 3] });
  const r = g.constant(f32([2, 3], [1, -2, 3, -4, 5, -6]), 'R');
  const stopped = stopGradient(g, 'x', 'x');
  assert.ok(isStopGradient(g.producers().get(stopped)!));
  // A second path through the stop to the loss, through an op with no gradient rule: it must get no backward.
  const norm = stopGradient(
    g,
    g.op('Sqrt', [g.op('ReduceSumSquare', ['x'], { keepdims: attr.int(0) })]),
    'norm',
  );
  const product = g.op('Mul', [g.op('Mul', [r, 'x']), stopped]);
  const loss = g.op('Add', [g.op('ReduceSum', [product], { keepdims: attr.int(0) }), norm], {}, 'loss');
  const grads = appendBackward(g, { loss, wrt: ['x'], shapes: await probeShapes(g) });
  g.outputs = [
    { name: loss, dtype: 'float32', shape: [] },
    { name: grads.get('x')!, dtype: 'float32', shape: [2, 3] },
  ];
  const x = randomInput([2, 3], 5);
  const out = await (await Session.create(g)).run({ x });
  const rx = [1, -2, 3, -4, 5, -6].map((v, i) => v * x.data[i]);
  const expectLoss = rx.reduce((s, v, i) => s + v * x.data[i], 0) + Math.hypot(...x.data);
  assert.ok(Math.abs((out[loss].data as Float32Array)[0] - expectLoss) < 1e-5);
  const dx = out[grads.get('x')!].data as Float32Array;
  dx.forEach((v, i) => assert.ok(Math.abs(v - rx[i]) < 1e-6, `dx[${i}] = ${v}, expected ${rx[i]}`));
});

test('sum(R*(p1 + p2)) passes the finite-difference check for both parameters', async () => {
  await gradCheck((g) => g.op('Add', ['p1', 'p2']), {
    inputs: { p1: randomInput([2, 3], 3), p2: randomInput([2, 3], 4) },
  });
});

test('every backward node is named grad.<forward node>.<op>, uniquely; value names are left alone', async () => {
  const g = new Graph();
  g.inputs.push(
    { name: 'X', dtype: 'float32', shape: ['N', 2, 4, 4] },
    { name: 'W', dtype: 'float32', shape: [3, 2, 3, 3] },
    { name: 'fc.weight', dtype: 'float32', shape: [2, 3] },
  );
  const conv = g.op(
    'Conv',
    ['X', 'W'],
    { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) },
    'conv',
  );
  const relu = g.op('Relu', [conv], {}, 'relu');
  const pooled = g.op('GlobalAveragePool', [relu], {}, 'pool');
  const flat = g.op('Flatten', [pooled], { axis: attr.int(1) }, 'flatten');
  const logits = g.op('Gemm', [flat, 'fc.weight'], { transB: attr.int(1) }, 'fc');
  const loss = g.op('ReduceSum', [logits], { keepdims: attr.int(0) }, 'loss');
  g.outputs = [{ name: loss, dtype: 'float32', shape: [] }];
  const forward = g.nodes.map((n) => n.name);
  const grads = appendBackward(g, { loss, wrt: ['W', 'fc.weight'], shapes: await probeShapes(g) });

  assert.deepEqual(
    g.nodes.slice(0, forward.length).map((n) => n.name),
    forward,
  );
  const backward = g.nodes.slice(forward.length);
  const owners = new Set<string>();
  for (const n of backward) {
    const m = /^grad\.(.+)\.([A-Za-z]+)__\d+$/.exec(n.name);
    assert.ok(m, `backward node '${n.name}' is named grad.<forward node>.<op>`);
    assert.ok(forward.includes(m[1]), `'${n.name}' names a forward node`);
    assert.equal(m[2], n.op, `'${n.name}' names its op`);
    owners.add(m[1]);
  }
  assert.deepEqual([...owners].sort(), ['conv', 'fc', 'flatten', 'loss', 'pool', 'relu']);
  const names = g.nodes.map((n) => n.name);
  assert.equal(new Set(names).size, names.length, 'node names are unique');

  // Rules that emit through g.op keep their value names; only the node is renamed.
  const dFc = g.producers().get(grads.get('fc.weight')!)!;
  assert.equal(dFc.op, 'Gemm');
  assert.match(dFc.name, /^grad\.fc\.Gemm__\d+$/);
  assert.match(dFc.outputs[0], /^Gemm__\d+$/);

  g.outputs = [
    { name: grads.get('W')!, dtype: 'float32', shape: [3, 2, 3, 3] },
    { name: grads.get('fc.weight')!, dtype: 'float32', shape: [2, 3] },
  ];
  const out = await (
    await Session.create(g)
  ).run({
    X: randomInput([2, 2, 4, 4], 5),
    W: randomInput([3, 2, 3, 3], 6),
    'fc.weight': randomInput([2, 3], 7),
  });
  assert.deepEqual(out[grads.get('W')!].shape, [3, 2, 3, 3]);
});
