import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { toOnnxBytes } from '../../src/graph/onnx-export.js';
import { buildResNet, randomResNetStateDict } from '../../src/models/resnet.js';
import { onnxBackbone } from '../../src/models/onnx-backbone.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { makeRunFolder } from './fixtures.js';

const dir = tempDir('smoker-backbone-', after);
const quiet = { ...SERVE_DEFAULTS, port: 0, threads: 1, log: () => {} };
let resnetRun: string;
let backbonePath: string;

before(async () => {
  resnetRun = await makeRunFolder(join(dir, 'resnet-run'));
  // A real ONNX CNN file: a random ResNet-18's backbone graph (image -> features) at 64x64.
  const backbone = buildResNet(18, randomResNetStateDict(18, 3));
  backbone.graph.inputs[0].shape = ['N', 3, 64, 64];
  mkdirSync(join(dir, 'tiny_cnn'));
  backbonePath = join(dir, 'tiny_cnn', 'model.onnx');
  writeFileSync(backbonePath, toOnnxBytes(backbone.graph));
});

async function withServer(
  opts: { model: string; backbone?: string },
  body: (s: RunningServer) => Promise<void>,
) {
  const s = await startServer({ ...quiet, ...opts });
  try {
    await body(s);
  } finally {
    await s.close();
  }
}

test('a run on a ResNet from torchvision weights has no backbone file: 404 with the fix, /v1/model says why', async () => {
  await withServer({ model: resnetRun }, async (s) => {
    const res = await fetch(s.url + '/v1/backbone.onnx');
    assert.equal(res.status, 404);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'no_backbone');
    assert.equal(
      error.message,
      "the run's backbone 'resnet18' is not an ONNX file on this server; start serve with --backbone <file.onnx> to train in the browser",
    );
    const m = (await (await fetch(s.url + '/v1/model')).json()) as { trainBackbone: unknown };
    assert.deepEqual(m.trainBackbone, { url: null, reason: error.message });
  });
});

test('--backbone <file>: GET /v1/backbone.onnx is that file, named by folder and file only, with an ETag', async () => {
  const bytes = readFileSync(backbonePath);
  await withServer({ model: resnetRun, backbone: backbonePath }, async (s) => {
    const res = await fetch(s.url + '/v1/backbone.onnx');
    assert.equal(res.status, 200);
    const got = Buffer.from(await res.arrayBuffer());
    assert.ok(got.equals(bytes));
    assert.equal(res.headers.get('x-backbone-name'), 'tiny_cnn/model.onnx');
    assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin');
    const etag = res.headers.get('etag')!;
    assert.equal(etag, `"${createHash('sha256').update(bytes).digest('hex')}"`);
    const again = await fetch(s.url + '/v1/backbone.onnx', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const m = (await (await fetch(s.url + '/v1/model')).json()) as { trainBackbone: unknown };
    assert.deepEqual(m.trainBackbone, {
      url: '/v1/backbone.onnx',
      name: 'tiny_cnn/model.onnx',
      bytes: bytes.length,
    });
    // What the page does with it: the same backbone as Node's loader makes from the file.
    const b = await onnxBackbone(got, 'tiny_cnn/model.onnx');
    assert.equal(b.featureDim, 512);
    assert.deepEqual(b.preprocess.size, [64, 64]);
    const head = await fetch(s.url + '/v1/backbone.onnx', { method: 'POST' });
    assert.equal(head.status, 405);
  });
});

test("the run's own ONNX backbone is offered when no --backbone is given", async () => {
  const run = await makeRunFolder(join(dir, 'onnx-run'), 7, { backbone: backbonePath });
  await withServer({ model: run }, async (s) => {
    const res = await fetch(s.url + '/v1/backbone.onnx');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-backbone-name'), 'tiny_cnn/model.onnx');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(readFileSync(backbonePath)));
  });
});

test('--backbone that is not an ONNX CNN stops the server with a one-line reason', async () => {
  const notOnnx = join(dir, 'notes.onnx');
  writeFileSync(notOnnx, 'not a model');
  await assert.rejects(startServer({ ...quiet, model: resnetRun, backbone: notOnnx }), (e: Error) => {
    assert.match(e.message, new RegExp(`^--backbone ${notOnnx}: `));
    assert.ok(!e.message.includes('\n'));
    return true;
  });
  await assert.rejects(startServer({ ...quiet, model: resnetRun, backbone: join(dir, 'absent.onnx') }), {
    message: `--backbone ${join(dir, 'absent.onnx')}: cannot read (ENOENT)`,
  });
});
