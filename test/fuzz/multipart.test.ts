import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Rng } from '../../src/random/rng.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { makeRunFolder, testJpeg } from '../serve/fixtures.js';

/*
 * Fuzzing the server's multipart and raw-body handling with seeded mutations of valid uploads, sent as
 * raw bytes: every request must end, within a time bound, in a 200 with a prediction or in a 4xx/5xx
 * with the API's error body, and the server must keep answering.
 */

const SECONDS = 6;
const dir = tempDir('smoker-fuzz-multipart-', after);
let server: RunningServer;
let port: number;
let jpeg: Buffer;

before(async () => {
  jpeg = await testJpeg(64, 48);
  server = await startServer({
    ...SERVE_DEFAULTS,
    model: await makeRunFolder(join(dir, 'run')),
    port: 0,
    threads: 1,
    bodyLimit: 256 * 1024,
    requestTimeoutMs: 2000,
    log: () => {},
  });
  port = Number(new URL(server.url).port);
});
after(() => server?.close());

function multipart(
  boundary: string,
  parts: { name: string; file?: string; type?: string; body: Buffer }[],
): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.file ? `; filename="${p.file}"` : ''}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\ncontent-disposition: ${disposition}\r\n${p.type ? `content-type: ${p.type}\r\n` : ''}\r\n`,
      ),
      p.body,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** One mutation of a valid request: bytes flipped, cut, repeated or spliced; header values bent. */
function mutate(rng: Rng, head: string, body: Buffer): { head: string; body: Buffer } {
  const b = Buffer.from(body);
  switch (rng.int(7)) {
    case 0: // flip a few bytes
      for (let i = 0, n = 1 + rng.int(8); i < n; i++) b[rng.int(b.length)] = rng.int(256);
      return { head, body: b };
    case 1: // truncate
      return { head, body: b.subarray(0, rng.int(b.length)) };
    case 2: {
      // repeat a slice
      const at = rng.int(b.length);
      const piece = b.subarray(at, at + 1 + rng.int(200));
      return { head, body: Buffer.concat([b.subarray(0, at), piece, piece, b.subarray(at)]) };
    }
    case 3: // another boundary in the header than in the body
      return { head: head.replace(/boundary=\S+/, `boundary=${'x'.repeat(1 + rng.int(80))}`), body: b };
    case 4: // a content type that is not one
      return {
        head: head.replace(
          /content-type: [^\r]+/,
          `content-type: ${['', ';', 'multipart/form-data', 'image/', 'a/b; c'][rng.int(5)]}`,
        ),
        body: b,
      };
    case 5: {
      // insert random bytes
      const at = rng.int(b.length);
      const junk = Buffer.from(Array.from({ length: 1 + rng.int(64) }, () => rng.int(256)));
      return { head, body: Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]) };
    }
    default: // many empty parts
      return { head, body: Buffer.concat([Buffer.from('--B\r\n\r\n\r\n'.repeat(rng.int(200))), b]) };
  }
}

/** Sends raw bytes; resolves with the status line's code and the body (the server closes after). */
function send(head: string, body: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(`${head}content-length: ${body.length}\r\nconnection: close\r\n\r\n`);
      socket.write(body);
    });
    let text = '';
    socket.setEncoding('latin1').on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

test(`fuzzed uploads for ${SECONDS} s: each ends in a prediction or the API's error, and the server keeps serving`, async (t) => {
  const rng = new Rng(2026);
  const boundary = 'B';
  const valid = [
    {
      head: `POST /v1/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\n`,
      body: multipart(boundary, [
        { name: 'note', body: Buffer.from('hello') },
        { name: 'file', file: 'a.jpg', type: 'image/jpeg', body: jpeg },
      ]),
    },
    { head: 'POST /v1/predict HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: image/jpeg\r\n', body: jpeg },
  ];
  const statuses = new Map<number, number>();
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    const base = valid[n % valid.length];
    const m = mutate(rng, base.head, base.body);
    const started = performance.now();
    const r = await send(m.head, m.body);
    const ms = performance.now() - started;
    assert.ok(ms < 5000, `request ${n} took ${ms} ms`);
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status === 200) {
      const p = JSON.parse(r.body) as { probability: number };
      assert.ok(p.probability >= 0 && p.probability <= 1, r.body);
    } else {
      assert.ok(r.status >= 400 && r.status < 600, `request ${n}: status ${r.status}\n${r.body}`);
      const e = JSON.parse(r.body) as { error: { code: string; message: string } };
      assert.deepEqual(Object.keys(e), ['error'], r.body);
      assert.ok(e.error.code && e.error.message && !e.error.message.includes('\n'), r.body);
      assert.notEqual(r.status, 500, `request ${n}: ${r.body}`);
    }
    n++;
  }
  t.diagnostic(`${n} requests; answers: ${[...statuses].map(([s, k]) => `${k}×${s}`).join(' ')}`);
  assert.ok(n > 50, `only ${n} requests in ${SECONDS} s`);
  assert.ok(statuses.size > 2, `answers: ${[...statuses]}`);
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
});
