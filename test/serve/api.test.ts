import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { predictFiles } from '../../src/eval/predict-files.js';
import { SavedModel } from '../../src/run/saved-model.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { pngHeaderClaiming } from '../helpers/png-header.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { CLASSES, makeRunFolder, spawnServe, testJpeg } from './fixtures.js';

const dir = tempDir('smoker-serve-', after);
const runDir = join(dir, 'tiny-run');
const BODY_LIMIT = 1024 * 1024;
const logs: string[] = [];
let server: RunningServer;
let jpeg: Buffer;

before(async () => {
  await makeRunFolder(runDir);
  jpeg = await testJpeg();
  server = await startServer({
    ...SERVE_DEFAULTS,
    model: runDir,
    port: 0,
    maxBatch: 8,
    batchWindowMs: 50,
    bodyLimit: BODY_LIMIT,
    threads: 1,
    log: (line) => logs.push(line),
  });
});
after(() => server?.close());

const url = (path: string) => server.url + path;
const postRaw = (path: string, body: Buffer | string, type?: string) =>
  fetch(url(path), { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
const postFile = (path: string, bytes: Buffer, name = 'photo.jpg', type = 'image/jpeg') => {
  const form = new FormData();
  form.append('file', new Blob([bytes], { type }), name);
  return fetch(url(path), { method: 'POST', body: form });
};

interface Prediction {
  label: string;
  probability: number;
  threshold: number;
  model: string;
  batchSize: number;
  timingMs: { queue: number; decode: number; inference: number; total: number };
}

/** A 4xx/5xx with the API's JSON error body and the expected code. */
async function expectError(res: Response, status: number, code: string): Promise<string> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code, text);
  assert.ok(body.error.message.length > 10 && !body.error.message.includes('\n'), body.error.message);
  return body.error.message;
}

async function healthy(base = server.url): Promise<void> {
  const res = await fetch(base + '/healthz');
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { status: string }).status, 'ok');
}

test('GET /healthz and /v1/model describe the run; /v1/model.onnx is the run file', async () => {
  const h = (await (await fetch(url('/healthz'))).json()) as Record<string, unknown>;
  assert.equal(h.status, 'ok');
  assert.match(String(h.model), /^tiny-run@[0-9a-f]{12}$/);
  assert.equal(h.explain, true);

  const m = (await (await fetch(url('/v1/model'))).json()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const bytes = readFileSync(join(runDir, 'model.onnx'));
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(m.id, `tiny-run@${sha.slice(0, 12)}`);
  assert.equal(m.backbone, 'resnet18');
  assert.deepEqual(m.lora, {
    rank: SEEDED.rank,
    alpha: SEEDED.alpha,
    targets: m.lora.targets,
    rslora: false,
    dora: false,
  });
  assert.deepEqual(m.classes, CLASSES);
  assert.equal(m.positiveClass, 'smoking');
  assert.equal(m.threshold, 0.5);
  assert.deepEqual(m.preprocess.size, [64, 64]);
  assert.deepEqual(m.preprocess.mean, [0.485, 0.456, 0.406]);
  assert.equal(m.metrics.split, 'validation');
  assert.equal(typeof m.metrics.accuracy, 'number');
  assert.equal(m.metrics.roc, undefined, 'the ROC points are left out');
  assert.deepEqual(m.onnx, { url: '/v1/model.onnx', precision: 'fp32', bytes: bytes.length, sha256: sha });

  const onnx = await fetch(url('/v1/model.onnx'));
  assert.equal(onnx.status, 200);
  assert.ok(Buffer.from(await onnx.arrayBuffer()).equals(bytes));
  const again = await fetch(url('/v1/model.onnx'), { headers: { 'if-none-match': `"${sha}"` } });
  assert.equal(again.status, 304);
});
const SEEDED = { rank: 4, alpha: 8 };

test('POST /v1/predict: raw and multipart JPEG give the CLI predict’s probability', async () => {
  const raw = await postRaw('/v1/predict', jpeg, 'image/jpeg');
  assert.equal(raw.status, 200);
  const a = (await raw.json()) as Prediction;
  const b = (await (await postFile('/v1/predict', jpeg)).json()) as Prediction;
  assert.ok(CLASSES.includes(a.label));
  assert.ok(a.probability > 0 && a.probability < 1, String(a.probability));
  assert.equal(a.label, a.probability >= 0.5 ? 'smoking' : 'notsmoking');
  assert.equal(a.threshold, 0.5);
  assert.equal(a.model, server.modelId);
  for (const k of ['queue', 'decode', 'inference', 'total'] as const) assert.ok(a.timingMs[k] >= 0, k);
  assert.ok(a.timingMs.total >= a.timingMs.decode + a.timingMs.inference - 0.1);
  assert.equal(b.probability, a.probability, 'multipart and raw bodies are the same image');
  assert.match(raw.headers.get('server-timing') ?? '', /queue;dur=.*decode;dur=.*inference;dur=/);

  // The same image through `smoker-lora predict`'s code path.
  const file = join(dir, 'photo.jpg');
  writeFileSync(file, jpeg);
  const model = await SavedModel.load(runDir, { threads: 1 });
  try {
    for await (const p of predictFiles(model, [file], { batch: 1, threshold: 0.5, tta: false }))
      assert.ok(Math.abs(p.probability! - a.probability) < 1e-6, `${p.probability} vs ${a.probability}`);
  } finally {
    await model.release();
  }

  const png = await sharp(jpeg).png().toBuffer();
  const c = (await (await postRaw('/v1/predict', png, 'image/png')).json()) as Prediction;
  assert.ok(Math.abs(c.probability - a.probability) < 0.02, 'a PNG of the same photo');
});

test('a test-time-flip run: /v1/predict and /v1/explain give a photo the same label and probability', async () => {
  const ttaDir = await makeRunFolder(join(dir, 'tta-run'), 7, { tta: true });
  const tta = await startServer({ ...SERVE_DEFAULTS, model: ttaDir, port: 0, threads: 1, log: () => {} });
  try {
    const post = (path: string) =>
      fetch(tta.url + path, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } });
    const p = (await (await post('/v1/predict')).json()) as Prediction;
    const e = (await (await post('/v1/explain?format=json')).json()) as Prediction;
    const plain = (await (await postRaw('/v1/predict', jpeg, 'image/jpeg')).json()) as Prediction;
    // The same weights without flip answer otherwise, so the flip is really applied by both endpoints.
    assert.ok(Math.abs(p.probability - plain.probability) > 1e-4, `${p.probability} vs ${plain.probability}`);
    assert.equal(e.label, p.label);
    assert.ok(Math.abs(e.probability - p.probability) < 1e-5, `${e.probability} vs ${p.probability}`);
  } finally {
    await tta.close();
  }
});

test('POST /v1/explain: the overlay PNG (default) and the heat map as JSON', async () => {
  const pred = (await (await postRaw('/v1/predict', jpeg, 'image/jpeg')).json()) as Prediction;
  const res = await postFile('/v1/explain', jpeg);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  assert.equal(res.headers.get('x-label'), pred.label);
  assert.ok(Math.abs(Number(res.headers.get('x-probability')) - pred.probability) < 1e-4);
  const png = Buffer.from(await res.arrayBuffer());
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 320, 240], 'over the photo, at its size');

  const map = await postRaw('/v1/explain?format=heatmap', jpeg, 'image/jpeg');
  assert.deepEqual([(await sharp(Buffer.from(await map.arrayBuffer())).metadata()).width], [64]);

  const j = await postRaw('/v1/explain?format=json', jpeg, 'image/jpeg');
  assert.equal(j.status, 200);
  const e = (await j.json()) as {
    label: string;
    probability: number;
    threshold: number;
    heatmap: { height: number; width: number; values: number[] };
  };
  assert.equal(e.label, pred.label);
  assert.ok(Math.abs(e.probability - pred.probability) < 1e-4);
  assert.equal(e.threshold, 0.5);
  assert.deepEqual([e.heatmap.height, e.heatmap.width, e.heatmap.values.length], [64, 64, 64 * 64]);
  assert.ok(e.heatmap.values.every((v) => v >= 0 && v <= 1));
  assert.ok(
    e.heatmap.values.some((v) => v > 0),
    'the random model has some positive evidence somewhere',
  );

  await expectError(await postRaw('/v1/explain?format=gif', jpeg, 'image/jpeg'), 400, 'bad_request');
  await expectError(await postRaw('/v1/explain?alpha=2', jpeg, 'image/jpeg'), 400, 'bad_request');
});

test('20 concurrent requests are batched into fewer model calls', async (t) => {
  const before = server.stats().predict;
  const images = await Promise.all(Array.from({ length: 20 }, (_, i) => testJpeg(320, 240, 100 + i)));
  const answers = await Promise.all(
    images.map(async (img, i) => {
      const res =
        i % 2 ? await postFile('/v1/predict', img) : await postRaw('/v1/predict', img, 'image/jpeg');
      assert.equal(res.status, 200);
      return (await res.json()) as Prediction;
    }),
  );
  const now = server.stats().predict;
  const calls = now.batches - before.batches;
  assert.equal(now.items - before.items, 20);
  assert.ok(calls < 20, `${calls} model calls for 20 requests`);
  assert.ok(
    answers.some((a) => a.batchSize > 1),
    `batch sizes ${answers.map((a) => a.batchSize)}`,
  );
  assert.ok(
    answers.every((a) => a.batchSize <= 8),
    'no batch over --max-batch',
  );
  // Each answer is its own image's: the same as asking alone.
  const alone = (await (await postRaw('/v1/predict', images[7], 'image/jpeg')).json()) as Prediction;
  assert.ok(Math.abs(alone.probability - answers[7].probability) < 1e-5);
  const health = (await (await fetch(url('/healthz'))).json()) as {
    queues: { predict: { batches: number; items: number } };
  };
  assert.ok(health.queues.predict.batches >= now.batches, '/healthz shows the counters');
  t.diagnostic(
    `20 concurrent requests -> ${calls} model calls (batch sizes ${answers.map((a) => a.batchSize).join(' ')})`,
  );
});

describe('bad requests get a clear 4xx and the server keeps serving', () => {
  test('garbage bytes', async () => {
    const garbage = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7919) % 251));
    await expectError(await postRaw('/v1/predict', garbage, 'image/jpeg'), 422, 'not_an_image');
    await expectError(await postFile('/v1/explain', garbage, 'x.jpg'), 422, 'not_an_image');
    await healthy();
  });

  test('a truncated JPEG', async () => {
    const big = await testJpeg(640, 480);
    const message = await expectError(
      await postRaw('/v1/predict', big.subarray(0, big.length >> 1), 'image/jpeg'),
      422,
      'corrupt_image',
    );
    assert.match(message, /truncated or corrupt/);
    await healthy();
  });

  test('a 20000x20000 PNG (decompression bomb) is refused from its header', async () => {
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const message = await expectError(
      await postRaw('/v1/predict', pngHeaderClaiming(20000, 20000), 'image/png'),
      413,
      'image_too_large',
    );
    assert.match(message, /^image too large \(20000x20000, over 24 megapixels\)$/);
    await expectError(
      await postFile('/v1/explain', pngHeaderClaiming(20000, 20000), 'b.png'),
      413,
      'image_too_large',
    );
    assert.ok(performance.now() - t0 < 5000, 'no decoding');
    assert.ok(process.memoryUsage().rss - rss < 200e6, 'no 1.2 GB pixel buffer');
    await healthy();
  });

  test('an empty body', async () => {
    await expectError(await postRaw('/v1/predict', Buffer.alloc(0), 'image/jpeg'), 400, 'empty_body');
    await expectError(await fetch(url('/v1/predict'), { method: 'POST' }), 400, 'empty_body');
    await expectError(await postFile('/v1/predict', Buffer.alloc(0)), 400, 'empty_body');
    const form = new FormData();
    form.append('note', 'no file here');
    await expectError(await fetch(url('/v1/predict'), { method: 'POST', body: form }), 400, 'no_file');
    await healthy();
  });

  test('a malformed multipart body, and an SVG (not a photo format)', async () => {
    const message = await expectError(
      await postRaw('/v1/predict', 'garbage without parts', 'multipart/form-data; boundary=xyz'),
      400,
      'bad_multipart',
    );
    assert.match(message, /malformed multipart/);
    const svg =
      '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>';
    await expectError(await postRaw('/v1/predict', svg, 'image/svg+xml'), 422, 'unsupported_image_format');
    await healthy();
  });

  test('the wrong content type', async () => {
    await expectError(
      await postRaw('/v1/predict', '{"x":1}', 'application/json'),
      415,
      'unsupported_media_type',
    );
    await expectError(await postRaw('/v1/predict', jpeg, 'text/plain'), 415, 'unsupported_media_type');
    await expectError(
      await postRaw('/v1/explain', jpeg, 'application/octet-stream'),
      415,
      'unsupported_media_type',
    );
    await healthy();
  });

  test('a body over --body-limit, raw and multipart', async () => {
    const huge = Buffer.concat([jpeg, Buffer.alloc(2 * BODY_LIMIT)]);
    const m1 = await expectError(await postRaw('/v1/predict', huge, 'image/jpeg'), 413, 'payload_too_large');
    assert.match(m1, /body limit of 1 MB/);
    await expectError(await postFile('/v1/predict', huge), 413, 'payload_too_large');
    await expectError(await postFile('/v1/explain', huge), 413, 'payload_too_large');
    await healthy();
  });

  test('unknown paths get 404, known paths with the wrong method 405', async () => {
    await expectError(await fetch(url('/v1/nothing')), 404, 'not_found');
    await expectError(await fetch(url('/v1/nothing'), { method: 'POST', body: jpeg }), 404, 'not_found');
    const r = await fetch(url('/v1/predict'));
    await expectError(r, 405, 'method_not_allowed');
    assert.equal(r.headers.get('allow'), 'POST');
    await expectError(await fetch(url('/v1/model'), { method: 'DELETE' }), 405, 'method_not_allowed');
    await expectError(await fetch(url('/healthz'), { method: 'POST' }), 405, 'method_not_allowed');
    await healthy();
  });

  test('the server logged one line per error', () => {
    assert.ok(logs.length >= 15, `${logs.length} lines`);
    for (const line of logs) assert.match(line, /^\S+Z (4\d\d|5\d\d) [A-Z]+ \/\S* [a-z_]+: [^\n]+$/);
  });
});

test('--timeout-ms: a request over the limit gets 503 with Retry-After, and the server goes on', async () => {
  const lines: string[] = [];
  const slow = await startServer({
    ...SERVE_DEFAULTS,
    model: runDir,
    port: 0,
    maxBatch: 8,
    timeoutMs: 1,
    threads: 1,
    log: (l) => lines.push(l),
  });
  try {
    const big = await testJpeg(2400, 1800);
    const res = await fetch(slow.url + '/v1/predict', {
      method: 'POST',
      body: big,
      headers: { 'content-type': 'image/jpeg' },
    });
    assert.equal(res.headers.get('retry-after'), '1');
    const message = await expectError(res, 503, 'timeout');
    assert.match(message, /1 ms \(--timeout-ms\)/);
    await healthy(slow.url);
    assert.equal(lines.length, 1);
  } finally {
    await slow.close();
  }
});

test('the page and onnxruntime-web are served, with cross-origin isolation and a strict CSP', async () => {
  const page = await fetch(url('/'));
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<title>Smoking detector<\/title>/);
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.match(page.headers.get('content-security-policy') ?? '', /connect-src 'self'/);
  for (const [path, type] of [
    ['/app.js', /javascript/],
    ['/style.css', /text\/css/],
    ['/ort/ort.wasm.min.mjs', /javascript/],
    ['/ort/ort-wasm-simd-threaded.wasm', /application\/wasm/],
  ] as const) {
    const r = await fetch(url(path), { method: 'HEAD' });
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', type, path);
  }
  await expectError(await fetch(url('/ort/ort.all.min.mjs')), 404, 'not_found');
  await expectError(await fetch(url('/ort/../package.json')), 404, 'not_found');
});

test('smoker-lora serve: starts from the CLI, answers, and stops cleanly on SIGTERM', async () => {
  const { child, url: base, output } = await spawnServe(['--model', runDir, '--port', '0', '--threads', '1']);
  try {
    assert.match(output(), /serving tiny-run@[0-9a-f]{12} on http:\/\/127\.0\.0\.1:\d+ /);
    await healthy(base);
    const res = await fetch(base + '/v1/predict', {
      method: 'POST',
      body: jpeg,
      headers: { 'content-type': 'image/jpeg' },
    });
    assert.equal(res.status, 200);
  } finally {
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output());
  }
});
