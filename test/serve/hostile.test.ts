import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { makeRunFolder, spawnServe, testJpeg } from './fixtures.js';

/*
 * What a hostile page or client can try on the server: option values that break timers, Host names of
 * a DNS-rebinding page, a path in /v1/model, and requests whose errors used to leave the API's shape.
 */

const dir = tempDir('smoker-hostile-', after);
let server: RunningServer;
let port: number;
let jpeg: Buffer;

before(async () => {
  const run = await makeRunFolder(join(dir, 'run'), 7, {
    backbone: join(dir, 'secret-projects', 'mobilenet_v2_1.0_224', 'model.onnx'),
  });
  jpeg = await testJpeg();
  server = await startServer({
    ...SERVE_DEFAULTS,
    model: run,
    port: 0,
    threads: 1,
    requestTimeoutMs: 1000,
    allowedHosts: ['detector.example.org'],
    log: () => {},
  });
  port = Number(new URL(server.url).port);
});
after(() => server?.close());

/** A raw HTTP/1.1 exchange: what the server answers to exactly these bytes (it closes after). */
function exchange(bytes: string, waitMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    setTimeout(() => socket.destroy(), waitMs);
  });
}

/** Status and parsed JSON body of a raw answer; the body must be the API's error shape. */
function apiError(answer: string): { status: number; code: string; message: string } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
    error: { code: string; message: string };
  };
  assert.deepEqual(Object.keys(body), ['error'], answer);
  return { status, ...body.error };
}

function get(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}

test('numeric options out of range are refused before the server starts, naming the flag', async () => {
  const base = { ...SERVE_DEFAULTS, model: join(dir, 'run'), port: 0, log: () => {} };
  for (const [bad, message] of [
    [{ timeoutMs: 3_000_000_000 }, /^--timeout-ms: must be <= 3600000 \(got 3000000000\)$/],
    [{ port: 70_000 }, /^--port: must be <= 65535 \(got 70000\)$/],
    [{ maxPixels: 1e9 }, /^--max-pixels: must be <= 50000000 \(got 1000000000\)$/],
    [{ batchWindowMs: 1e9 }, /^--batch-window-ms: must be <= 10000 \(got 1000000000\)$/],
    [{ maxBatch: 0 }, /^--max-batch: must be >= 1 \(got 0\)$/],
  ] as const)
    await assert.rejects(startServer({ ...base, ...bad }), { message });
  const cli = await spawnServe(['--model', join(dir, 'run'), '--timeout-ms', '3000000000']).catch(
    (e: Error) => e,
  );
  assert.match(
    String(cli),
    /serve exited with 1:\nsmoker-lora: --timeout-ms: must be <= 3600000 \(got 3000000000\)\n$/,
  );
});

test('only IP addresses, loopback names and allowed names are answered (DNS rebinding)', async () => {
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'detector.example.org'])
    assert.equal((await get('/healthz', host)).status, 200, host);
  const refused = await get('/v1/model', `rebind.attacker.example:${port}`);
  assert.equal(refused.status, 403);
  assert.deepEqual(JSON.parse(refused.body), {
    error: {
      code: 'host_not_allowed',
      message:
        "this server does not answer for the host name 'rebind.attacker.example'; start it with --allowed-hosts rebind.attacker.example to allow it",
    },
  });
});

test('/v1/model names the backbone without its path', async () => {
  const text = await (await fetch(`${server.url}/v1/model`)).text();
  assert.equal((JSON.parse(text) as { backbone: string }).backbone, 'mobilenet_v2_1.0_224/model.onnx');
  assert.ok(!text.includes(dir) && !text.includes('secret-projects'), text);
});

test('a content type with parameters is still an image; many small parts are not "too large"', async () => {
  const typed = await fetch(`${server.url}/v1/predict`, {
    method: 'POST',
    body: jpeg,
    headers: { 'content-type': 'image/jpeg; charset=utf-8' },
  });
  assert.equal(typed.status, 200, await typed.clone().text());

  const form = new FormData();
  for (let i = 0; i < 1000; i++) form.append(`f${i}`, 'x'.repeat(100));
  form.append('file', new Blob([jpeg], { type: 'image/jpeg' }), 'a.jpg');
  const many = await fetch(`${server.url}/v1/predict`, { method: 'POST', body: form });
  assert.equal(many.status, 413);
  const body = (await many.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'too_many_parts');
  assert.doesNotMatch(body.error.message, /larger than/);
});

test('a bad URL, headers too large and a request too slow all answer in the API error shape', async () => {
  const bad = apiError(
    await exchange('GET /v1/%zz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n'),
  );
  assert.deepEqual([bad.status, bad.code], [400, 'bad_request']);

  const big = apiError(
    await exchange(`GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`),
  );
  assert.deepEqual([big.status, big.code], [431, 'headers_too_large']);

  // Half a request, then silence: the server gives up after its request timeout (1 s here).
  const t0 = performance.now();
  const slow = apiError(
    await exchange(
      'POST /v1/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: image/jpeg\r\ncontent-length: 100\r\n\r\nabc',
      60_000,
    ),
  );
  assert.deepEqual([slow.status, slow.code], [408, 'request_timeout']);
  assert.ok(performance.now() - t0 < 45_000);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200, 'and the server keeps serving');
});
