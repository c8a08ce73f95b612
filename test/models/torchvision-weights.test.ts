import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { type Dirent, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultCacheDir, downloadCached } from '../../src/models/download.js';
import { buildResNet } from '../../src/models/resnet.js';
import {
  loadStateDict,
  resolveResNetWeights,
  TORCHVISION_RESNET_URLS,
} from '../../src/models/torchvision-weights.js';
import { sharedPath } from '../helpers/shared.js';

const work = mkdtempSync(join(tmpdir(), 'smoker-weights-'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Files served by path; `hits` counts requests, so cache hits are visible. */
const files = new Map<string, Buffer>();
const hits = new Map<string, number>();
let server: Server;
let base: string;

before(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const body = files.get(path);
    if (!body) return res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise((ok) => server.close(ok));
  rmSync(work, { recursive: true, force: true });
});

const freshCache = () => mkdtempSync(join(work, 'cache-'));

/** Every file under `dir`, as paths relative to it. */
const listing = (dir: string) =>
  (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)));

test('a file named with its sha256 prefix downloads once, verified, then comes from the cache', async () => {
  const body = randomBytes(300_000);
  const path = `/models/blob-${sha(body).slice(0, 8)}.bin`;
  files.set(path, body);
  const cache = freshCache();
  const first = await downloadCached(base + path, cache);
  assert.equal(basename(first), basename(path));
  assert.ok(readFileSync(first).equals(body));
  assert.equal(await downloadCached(base + path, cache), first);
  assert.equal(hits.get(path), 1, 'the second call is a cache hit');
  assert.deepEqual(listing(cache), [relative(cache, first)]);
});

test('the cache is keyed by URL: the same file name at another URL is fetched, not reused', async () => {
  const [a, b] = [randomBytes(1000), randomBytes(1000)];
  files.set('/a/resnet18.pth', a);
  files.set('/b/resnet18.pth', b);
  const cache = freshCache();
  const fromA = await downloadCached(`${base}/a/resnet18.pth`, cache);
  const fromB = await downloadCached(`${base}/b/resnet18.pth`, cache);
  assert.notEqual(fromA, fromB);
  assert.ok(readFileSync(fromA).equals(a));
  assert.ok(readFileSync(fromB).equals(b));
  assert.equal(hits.get('/b/resnet18.pth'), 1);
  assert.equal(await downloadCached(`${base}/a/resnet18.pth`, cache), fromA);
  assert.equal(hits.get('/a/resnet18.pth'), 1);
});

test('a cached file that no longer matches the hash in its name is fetched again', async () => {
  const body = randomBytes(5000);
  const path = `/models/w-${sha(body).slice(0, 12)}.pth`;
  files.set(path, body);
  const cache = freshCache();
  const cached = await downloadCached(base + path, cache);
  writeFileSync(cached, 'garbage');
  assert.equal(await downloadCached(base + path, cache), cached);
  assert.ok(readFileSync(cached).equals(body));
  assert.equal(hits.get(path), 2);
});

test('a checksum mismatch is an error and leaves nothing in the cache', async () => {
  const path = '/models/resnet18-deadbeef.pth';
  files.set(path, randomBytes(1000));
  const cache = freshCache();
  await assert.rejects(downloadCached(base + path, cache), (e: Error) => {
    assert.match(
      e.message,
      /^cannot download http:\/\/127\.0\.0\.1:\d+\/models\/resnet18-deadbeef\.pth \(checksum mismatch: sha256 [0-9a-f]{64} does not start with deadbeef\); download it yourself and pass --weights <path>$/,
    );
    return true;
  });
  assert.deepEqual(listing(cache), []);
});

test('HTTP errors and refused connections are one-line errors that say what to do', async () => {
  const cache = freshCache();
  await assert.rejects(downloadCached(`${base}/models/missing-0123abcd.pth`, cache), {
    message: `cannot download ${base}/models/missing-0123abcd.pth (HTTP 404 Not Found); download it yourself and pass --weights <path>`,
  });
  const closed = createServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((ok) => closed.close(ok));
  await assert.rejects(
    downloadCached(`http://127.0.0.1:${port}/w-00.pth`, cache),
    /\(ECONNREFUSED\); download it yourself/,
  );
  assert.deepEqual(listing(cache), []);
});

const fixture = sharedPath('fixtures/torch/resnet18_random.safetensors');
test(
  'resolveResNetWeights loads a downloaded .safetensors that buildResNet accepts',
  { skip: fixture.skip },
  async () => {
    const body = readFileSync(fixture.path);
    const path = `/models/resnet18-${sha(body).slice(0, 10)}.safetensors`;
    files.set(path, body);
    const sd = await resolveResNetWeights(18, base + path, freshCache());
    assert.equal(buildResNet(18, sd).featureDim, 512);
  },
);

const tiny = sharedPath('fixtures/torch/tiny_state_dict.pth');
test('a .pth source goes through the PyTorch checkpoint reader', { skip: tiny.skip }, async () => {
  const body = readFileSync(tiny.path);
  const path = `/tiny-${sha(body).slice(0, 8)}.pth`;
  files.set(path, body);
  const sd = await resolveResNetWeights(18, base + path, freshCache());
  const want = JSON.parse(readFileSync(tiny.path.replace(/\.pth$/, '.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.deepEqual([...sd.keys()].sort(), Object.keys(want).sort());
});

test('a download that does not load as weights is not kept: the next run fetches it again', async () => {
  const path = '/garbage/resnet18.pth';
  files.set(path, Buffer.from('<html>not a checkpoint</html>'));
  const cache = freshCache();
  await assert.rejects(resolveResNetWeights(18, base + path, cache), (e: Error) => {
    assert.match(
      e.message,
      /resnet18\.pth: not a zip archive \(expected a torch\.save checkpoint from PyTorch >= 1\.6\) \(downloaded from http:\/\/127\.0\.0\.1:\d+\/garbage\/resnet18\.pth; removed from the cache\)$/,
    );
    return true;
  });
  assert.deepEqual(listing(cache), []);
  await assert.rejects(resolveResNetWeights(18, base + path, cache), /removed from the cache/);
  assert.equal(hits.get(path), 2, 'the second run downloads it again');
});

test('local sources: missing files and unknown types are named; defaults are torchvision URLs', async () => {
  await assert.rejects(resolveResNetWeights(34, join(work, 'nope.pth')), {
    message: `${join(work, 'nope.pth')}: weights file not found`,
  });
  const txt = join(work, 'weights.txt');
  writeFileSync(txt, 'x');
  await assert.rejects(
    loadStateDict(txt),
    /weights\.txt: unsupported weights file type '\.txt' \(expected \.pth, \.pt or \.safetensors\)/,
  );
  assert.equal(TORCHVISION_RESNET_URLS[34], 'https://download.pytorch.org/models/resnet34-b627a593.pth');
  const saved = process.env.SMOKER_LORA_CACHE;
  process.env.SMOKER_LORA_CACHE = '/tmp/some-cache';
  assert.equal(defaultCacheDir(), '/tmp/some-cache');
  if (saved === undefined) delete process.env.SMOKER_LORA_CACHE;
  else process.env.SMOKER_LORA_CACHE = saved;
});
