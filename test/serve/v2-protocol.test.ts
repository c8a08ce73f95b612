import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';
import type { Preprocess } from '../../src/models/backbone.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { makeRunFolder, testJpeg } from './fixtures.js';

/*
 * The KServe v2 / Open Inference Protocol endpoints, checked against the shapes and examples of the
 * protocol's own specification (kserve/open-inference-protocol, specification/protocol/inference_rest.md).
 */

const dir = tempDir('smoker-v2-', after);
let server: RunningServer;
let jpeg: Buffer;
let pixels: Float32Array;

before(async () => {
  const run = await makeRunFolder(join(dir, 'tiny-run'));
  jpeg = await testJpeg();
  server = await startServer({
    ...SERVE_DEFAULTS,
    model: run,
    port: 0,
    threads: 1,
    batchWindowMs: 30,
    log: () => {},
  });
  const meta = (await (await fetch(`${server.url}/v1/model`)).json()) as { preprocess: Preprocess };
  pixels = toCHW(
    (await decodeResized(jpeg, meta.preprocess.size)).rgb,
    meta.preprocess.size,
    meta.preprocess,
  );
});
after(() => server?.close());

const get = async (path: string) => {
  const res = await fetch(server.url + path);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const infer = async (body: unknown, path = '/v2/models/tiny-run/infer') => {
  const res = await fetch(server.url + path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test('health, server metadata and model metadata in the specification’s shapes', async () => {
  assert.deepEqual(await get('/v2/health/live'), { status: 200, body: { live: true } });
  assert.deepEqual(await get('/v2/health/ready'), { status: 200, body: { ready: true } });
  const server2 = await get('/v2');
  assert.equal(server2.body.name, 'smoker-lora');
  assert.match(String(server2.body.version), /^\d+\.\d+\.\d+/);
  assert.deepEqual(server2.body.extensions, []);
  const expected = {
    name: 'tiny-run',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 3, 64, 64] }],
    outputs: [
      { name: 'logits', datatype: 'FP32', shape: [-1, 2] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] },
    ],
  };
  assert.deepEqual(await get('/v2/models/tiny-run'), { status: 200, body: expected });
  assert.deepEqual(await get('/v2/models/tiny-run/versions/1'), { status: 200, body: expected });
  assert.deepEqual(await get('/v2/models/tiny-run/ready'), {
    status: 200,
    body: { name: 'tiny-run', ready: true },
  });
  const missing = await get('/v2/models/other');
  assert.equal(missing.status, 404);
  assert.deepEqual(Object.keys(missing.body), ['error']);
  assert.equal(typeof missing.body.error, 'string');
  assert.equal((await get('/v2/models/tiny-run/versions/2')).status, 404);
});

test('inference: flat or nested data, the id echoed, outputs as asked, the same answer as /v1/predict', async () => {
  const flat = Array.from(pixels);
  const nested = [
    [0, 1, 2].map((c) =>
      Array.from({ length: 64 }, (_, y) => flat.slice(c * 4096 + y * 64, c * 4096 + (y + 1) * 64)),
    ),
  ];
  const request = (data: unknown, outputs?: { name: string }[]) => ({
    id: '42',
    inputs: [{ name: 'input', shape: [1, 3, 64, 64], datatype: 'FP32', data }],
    ...(outputs ? { outputs } : {}),
  });
  const a = await infer(request(flat));
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.deepEqual(Object.keys(a.body).sort(), ['id', 'model_name', 'model_version', 'outputs']);
  assert.deepEqual([a.body.id, a.body.model_name, a.body.model_version], ['42', 'tiny-run', '1']);
  const outputs = a.body.outputs as { name: string; shape: number[]; datatype: string; data: number[] }[];
  assert.deepEqual(
    outputs.map((o) => [o.name, o.shape, o.datatype, o.data.length]),
    [
      ['logits', [1, 2], 'FP32', 2],
      ['probabilities', [1, 2], 'FP32', 2],
    ],
  );
  const [l0, l1] = outputs[0].data;
  const p1 = 1 / (1 + Math.exp(l0 - l1));
  assert.ok(Math.abs(outputs[1].data[1] - p1) < 1e-6, 'the probabilities are the softmax of the logits');
  const b = await infer(request(nested, [{ name: 'probabilities' }]));
  const only = b.body.outputs as { name: string; data: number[] }[];
  assert.deepEqual(
    only.map((o) => o.name),
    ['probabilities'],
  );
  assert.deepEqual(only[0].data, outputs[1].data, 'nested data is the same tensor');
  const v1 = (await (
    await fetch(`${server.url}/v1/predict`, {
      method: 'POST',
      body: jpeg,
      headers: { 'content-type': 'image/jpeg' },
    })
  ).json()) as { probability: number };
  assert.ok(
    Math.abs(v1.probability - outputs[1].data[1]) < 1e-6,
    `${v1.probability} vs ${outputs[1].data[1]}`,
  );
});

test('a batch of three images is three rows, through the batch queue', async () => {
  const three = [...pixels, ...pixels.map((v) => -v), ...pixels];
  const before = server.stats().predict.items;
  const r = await infer({
    inputs: [{ name: 'input', shape: [3, 3, 64, 64], datatype: 'FP32', data: three }],
  });
  assert.equal(r.status, 200);
  assert.ok(!('id' in r.body), 'no id asked, none given');
  const probs = (r.body.outputs as { name: string; shape: number[]; data: number[] }[])[1];
  assert.deepEqual(probs.shape, [3, 2]);
  assert.deepEqual(probs.data.slice(0, 2), probs.data.slice(4, 6));
  assert.equal(server.stats().predict.items - before, 3);
});

test('the specification’s example request, bad tensors and bad JSON: 400 with the protocol’s error object', async () => {
  // The request of the specification's "Inference Request Examples", verbatim: another model's inputs.
  const example = {
    id: '42',
    inputs: [
      { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
      { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
    ],
    outputs: [{ name: 'output0' }],
  };
  const bad = [
    example,
    { inputs: [{ name: 'input0', shape: [1, 3, 64, 64], datatype: 'FP32', data: Array.from(pixels) }] },
    { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(pixels) }] },
    { inputs: [{ name: 'input', shape: [1, 3, 64, 64], datatype: 'FP32', data: [1, 2, 3] }] },
    {
      inputs: [
        { name: 'input', shape: [1, 3, 64, 64], datatype: 'FP32', data: Array.from(pixels, () => 'x') },
      ],
    },
    {
      inputs: [{ name: 'input', shape: [1, 3, 64, 64], datatype: 'FP32', data: Array.from(pixels) }],
      outputs: [{ name: 'output0' }],
    },
    [],
  ];
  for (const body of bad) {
    const r = await infer(body);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.deepEqual(Object.keys(r.body), ['error']);
    assert.ok(typeof r.body.error === 'string' && !String(r.body.error).includes('\n'));
  }
  const garbled = await fetch(`${server.url}/v2/models/tiny-run/infer`, {
    method: 'POST',
    body: '{"inputs": [',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(garbled.status, 400);
  assert.equal(typeof ((await garbled.json()) as { error: unknown }).error, 'string');
});
