import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { appendBackward } from '../../src/autodiff/backward.js';
import { appendCrossEntropy, crossEntropyCoefficients } from '../../src/autodiff/cross-entropy.js';
import { attr, Graph } from '../../src/graph/ir.js';
import { f32 } from '../../src/graph/tensor.js';
import { probeShapes } from '../../src/runtime/probe-shapes.js';
import { Session } from '../../src/runtime/session.js';
import { gradCheck, randomInput } from '../helpers/grad-check.js';
import { sharedPath } from '../helpers/shared.js';

const [N, C] = [5, 4];
const logits = randomInput([N, C], 1, -3, 3);
const labels = [2, 0, 3, 2, 1];
const weights = [0.5, 2, 1, 3];

/**
 * PyTorch's nn.CrossEntropyLoss(weight, label_smoothing, reduction='mean') in float64, term by term as in
 * aten's cross_entropy_loss_label_smoothing: (1-eps)·NLL + eps/C·smooth, both over Σ w[y_i].
 */
function torchCrossEntropy(x: ArrayLike<number>, y: number[], w = Array(C).fill(1), eps = 0): number {
  let [nll, smooth, norm] = [0, 0, 0];
  y.forEach((label, i) => {
    const row = Array.from({ length: C }, (_, c) => x[i * C + c]);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    nll -= w[label] * (row[label] - lse);
    smooth -= row.reduce((s, v, c) => s + w[c] * (v - lse), 0);
    norm += w[label];
  });
  return ((1 - eps) * nll) / norm + ((eps / C) * smooth) / norm;
}

/** A graph from logits and coefficients [N,C] (batch symbolic, as in training) to the loss. */
function lossGraph(g: Graph): string {
  g.inputs = [
    { name: 'logits', dtype: 'float32', shape: ['N', C] },
    { name: 'coeffs', dtype: 'float32', shape: ['N', C] },
  ];
  return appendCrossEntropy(g, 'logits', 'coeffs');
}

const cases = [
  { name: 'plain', opts: {} },
  { name: 'weighted', opts: { weights } },
  { name: 'smoothed', opts: { labelSmoothing: 0.1 } },
  { name: 'weighted and smoothed', opts: { weights, labelSmoothing: 0.25 } },
];

for (const { name, opts } of cases)
  test(`the ${name} loss equals PyTorch's formula`, async () => {
    const g = new Graph();
    g.outputs = [{ name: lossGraph(g), dtype: 'float32', shape: [] }];
    const coeffs = crossEntropyCoefficients(labels, C, opts);
    const out = await (await Session.create(g)).run({ logits, coeffs });
    const loss = (out[g.outputs[0].name].data as Float32Array)[0];
    const expected = torchCrossEntropy(logits.data, labels, opts.weights, opts.labelSmoothing);
    assert.ok(Math.abs(loss - expected) <= 1e-6 * expected, `loss ${loss}, PyTorch's formula ${expected}`);
  });

test('the weighted and smoothed loss has the right gradient in the logits', async (t) => {
  const coeffs = crossEntropyCoefficients(labels, C, cases[3].opts);
  const worst = await gradCheck(lossGraph, { inputs: { logits, coeffs }, wrt: ['logits'] });
  t.diagnostic(`worst FD error ${JSON.stringify(worst)}`);
});

test('coefficients reject labels, weights and smoothing that PyTorch would not accept', () => {
  assert.throws(() => crossEntropyCoefficients([0, 4], C), /label 4 is not a class index in \[0, 4\)/);
  assert.throws(() => crossEntropyCoefficients([0.5], C), /label 0.5/);
  assert.throws(() => crossEntropyCoefficients([0], C, { weights: [1, 2] }), /2 class weights for 4 classes/);
  assert.throws(
    () => crossEntropyCoefficients([0], C, { labelSmoothing: 1.5 }),
    /label smoothing must be in/,
  );
  assert.throws(() => crossEntropyCoefficients([1], C, { weights: [1, 0, 1, 1] }), /sum to 0/);
});

/** The F32 and I64 tensors of a safetensors file, as plain numbers. */
function readSafetensors(path: string): Map<string, { shape: number[]; data: number[] }> {
  const bytes = readFileSync(path);
  const size = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + size).toString('utf8'));
  const out = new Map<string, { shape: number[]; data: number[] }>();
  for (const [key, info] of Object.entries<{ dtype: string; shape: number[]; data_offsets: number[] }>(
    header,
  )) {
    if (key === '__metadata__') continue;
    const raw = bytes.subarray(8 + size + info.data_offsets[0], 8 + size + info.data_offsets[1]);
    // Copy first: offsets into the file are not aligned for typed-array views.
    const buf = Uint8Array.from(raw).buffer;
    const data =
      info.dtype === 'I64' ? Array.from(new BigInt64Array(buf), Number) : Array.from(new Float32Array(buf));
    out.set(key, { shape: info.shape, data });
  }
  return out;
}

const fixture = sharedPath('fixtures/torch/lora_reference.safetensors');
test(
  "the Linear head and loss match PyTorch's loss and head gradients on the reference fixture",
  { skip: fixture.skip },
  async (t) => {
    const ref = readSafetensors(fixture.path);
    const tensor = (key: string) => f32(ref.get(key)!.shape, ref.get(key)!.data);
    const d = ref.get('features')!.shape[1];
    const classes = ref.get('fc.bias')!.shape[0];
    const g = new Graph();
    g.inputs = [
      { name: 'features', dtype: 'float32', shape: ['N', d] },
      { name: 'fc.weight', dtype: 'float32', shape: [classes, d] },
      { name: 'fc.bias', dtype: 'float32', shape: [classes] },
      { name: 'coeffs', dtype: 'float32', shape: ['N', classes] },
    ];
    const head = g.op('Gemm', ['features', 'fc.weight', 'fc.bias'], { transB: attr.int(1) }, 'fc');
    const loss = appendCrossEntropy(g, head, 'coeffs');
    g.outputs = [{ name: loss, dtype: 'float32', shape: [] }];
    const grads = appendBackward(g, { loss, wrt: ['fc.weight', 'fc.bias'], shapes: await probeShapes(g) });
    g.outputs.push({ name: head, dtype: 'float32', shape: ['N', classes] });
    for (const w of ['fc.weight', 'fc.bias'])
      g.outputs.push({ name: grads.get(w)!, dtype: 'float32', shape: ref.get(w)!.shape });

    const session = await Session.create(g);
    const out = await session.run({
      features: tensor('features'),
      'fc.weight': tensor('fc.weight'),
      'fc.bias': tensor('fc.bias'),
      coeffs: crossEntropyCoefficients(ref.get('labels')!.data, classes),
    });
    const close = (got: string, key: string) => {
      const want = ref.get(key)!.data;
      const scale = Math.max(...want.map(Math.abs));
      const err =
        Math.max(...Array.from(out[got].data as Float32Array, (v, i) => Math.abs(v - want[i]))) / scale;
      t.diagnostic(`${key}: max |ours - PyTorch| / max |PyTorch| = ${err.toExponential(2)}`);
      assert.ok(err <= 1e-5, `${key}: relative error ${err.toExponential(2)}`);
    };
    close(head, 'logits');
    close(loss, 'loss');
    close(grads.get('fc.weight')!, 'grad.fc.weight');
    close(grads.get('fc.bias')!, 'grad.fc.bias');
  },
);
