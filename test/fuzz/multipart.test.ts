import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Rng } from '../../src/random/rng.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { mutate, pick } from './mutate.js';
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

/**
 * One mutation of a valid request: its body by the decoders' byte mutators (bits flipped, lengths
 * bent, chunks cut, repeated or spliced), or a header value bent, or many empty parts in front.
 */
function mutateRequest(
  rng: Rng,
  head: string,
  body: Buffer,
  donors: readonly Buffer[],
): { head: string; body: Buffer } {
  switch (rng.int(4)) {
    case 0: // another boundary in the header than in the body
      return { head: head.replace(/boundary=\S+/, `boundary=${'x'.repeat(1 + rng.int(80))}`), body };
    case 1: // a content type that is not one
      return {
        head: head.replace(
          /content-type: [^\r]+/,
          `content-type: ${pick(rng, ['', ';', 'multipart/form-data', 'image/', 'a/b; c'])}`,
        ),
        body,
      };
    case 2: // many empty parts
      return { head, body: Buffer.concat([Buffer.from('--B\r\n\r\n\r\n'.repeat(rng.int(200))), body]) };
    default:
      return { head, body: Buffer.from(mutate(rng, body, donors)) };
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
    const m = mutateRequest(
      rng,
      base.head,
      base.body,
      valid.map((v) => v.body),
    );
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
