import assert from 'node:assert/strict';
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext } from 'playwright-core';
import { runCli } from '../cli/cli-fixture.js';
import { chromiumSkip, launchChromium, type Chromium } from '../helpers/chromium.js';
import { sharedPath } from '../helpers/shared.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { testJpeg } from '../serve/fixtures.js';

// The in-page callbacks run in Chromium; the project compiles without the DOM lib.
type Dom = any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const document: Dom;
declare const window: Dom;

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');
const skip = chromiumSkip || mobilenet.skip;
const dir = tempDir('smoker-static-', after);
const site = join(dir, 'site');
let server: Server;
let url: string;
let browser: Chromium | undefined;
let context: BrowserContext;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
};

/** Any static host: files as they are, with the two isolation headers the README asks for. */
function staticHost(root: string): Promise<string> {
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url!, 'http://x').pathname)).replace(
      /^(\.\.[/\\])+/,
      '',
    );
    const file = join(root, path.endsWith('/') ? join(path, 'index.html') : path);
    if (!existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

before(async () => {
  if (skip) return;
  const r = await runCli(['web', '--out', site, '--backbone', mobilenet.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    /Cross-Origin-Opener-Policy: same-origin\n {2}Cross-Origin-Embedder-Policy: require-corp/,
  );
  url = await staticHost(site);
  browser = await launchChromium();
  context = browser.context;
});

after(async () => {
  await browser?.close();
  server?.close();
});

test(
  'smoker-lora web --out writes a static site that trains in the browser',
  { skip, timeout: 300_000 },
  async (t) => {
    assert.deepEqual(readdirSync(site).sort(), [
      'backbone.json',
      'backbone.onnx',
      'index.html',
      'lib',
      'ort',
      'style.css',
      'train.html',
      'train.js',
    ]);
    const lib = readdirSync(join(site, 'lib'));
    assert.ok(lib.includes('train-worker.js') && lib.includes('augment-kernel.wasm'), lib.join());
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(url + '/');
    await page.waitForFunction(() => document.body.dataset.ready === 'yes' && document.body.dataset.backbone);
    assert.equal(await page.evaluate(() => window.crossOriginIsolated), true);
    assert.match(
      (await page.textContent('#backbone-summary'))!,
      /^Backbone: mobilenet_v2_1\.0_224\/model\.onnx \(14\.\d MB\)/,
    );
    const photo = async (i: number) => ({
      name: `p${i}.jpg`,
      mimeType: 'image/jpeg',
      buffer: await testJpeg(160, 120, i),
    });
    await page.setInputFiles('#photos-0', await Promise.all([...Array(10).keys()].map(photo)));
    await page.setInputFiles(
      '#photos-1',
      await Promise.all([...Array(10).keys()].map((i) => photo(100 + i))),
    );
    await page.fill('#epochs', '1');
    await page.fill('#batch', '8');
    await page.selectOption('#image-size', '96');
    await page.click('#train');
    await page.waitForFunction(
      () => document.body.dataset.result === 'trained' || !document.getElementById('train-error').hidden,
      null,
      {
        timeout: 240_000,
      },
    );
    assert.equal(await page.textContent('#train-error'), '');
    t.diagnostic((await page.textContent('#train-status'))!);
    assert.match((await page.textContent('#train-status'))!, /^Finished: kept epoch 1; validation accuracy/);
    assert.deepEqual(problems, []);
  },
);
