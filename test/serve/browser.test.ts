import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { exportRun } from '../../src/export/export-run.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { chromiumSkip as skip, launchChromium, type Chromium } from '../helpers/chromium.js';
import { resultCards } from '../helpers/result-cards.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { makeRunFolder, testJpeg } from './fixtures.js';

// The in-page callbacks below run in Chromium; the project compiles without the DOM lib, so the few
// browser objects they touch are typed loosely here (module scope: nothing leaks into other files).
type Dom = any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const document: Dom;

const dir = tempDir('smoker-browser-', after);
let server: RunningServer;
let browser: Chromium | undefined;
let context: BrowserContext;
let page: Page;
const requests: string[] = [];
const problems: string[] = [];

before(async () => {
  if (skip) return;
  server = await startServer({
    ...SERVE_DEFAULTS,
    model: await makeRunFolder(join(dir, 'tiny-run')),
    port: 0,
    maxBatch: 8,
    timeoutMs: 30_000,
    threads: 1,
    log: () => {},
  });
  browser = await launchChromium();
  context = browser.context;
  page = context.pages()[0] ?? (await context.newPage());
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(server.url + '/');
  await page.waitForFunction(() => !/Loading/.test(document.getElementById('model-summary')!.textContent!));
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const cards = (count: number, withOverlay = 0) => resultCards(page, count, withOverlay);

async function apiProbability(jpeg: Buffer): Promise<number> {
  const res = await fetch(server.url + '/v1/predict', {
    method: 'POST',
    body: jpeg,
    headers: { 'content-type': 'image/jpeg' },
  });
  return ((await res.json()) as { probability: number }).probability;
}

test(
  'server mode and browser mode label the same photo alike; webcam capture works',
  { skip, timeout: 300_000 },
  async (t) => {
    const jpeg = await testJpeg(320, 240);
    const expected = await apiProbability(jpeg);

    // Server mode: the photo goes to /v1/predict and /v1/explain.
    await page.setInputFiles('#file-input', { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    const [server1] = await cards(1, 1);
    assert.equal(server1.state, 'done', server1.meta);
    assert.equal(server1.mode, 'server');
    assert.equal(server1.probability, expected);
    assert.match(
      server1.meta,
      /^Server · \d+ ms ?decode \d+ ms, queue \d+ ms, inference \d+ ms \(batch of \d+\)/,
    );
    assert.ok(server1.overlay, 'the Grad-CAM overlay is shown');
    assert.match(server1.alt, /Grad-CAM heat map/);

    // Several photos at once: one request each, batched by the server.
    const more = await Promise.all([11, 12, 13].map((s) => testJpeg(320, 240, s)));
    await page.setInputFiles(
      '#file-input',
      more.map((buffer, i) => ({ name: `more-${i}.jpg`, mimeType: 'image/jpeg', buffer })),
    );
    const afterMore = await cards(4, 4);
    assert.ok(afterMore.every((c) => c.state === 'done' && c.mode === 'server'));

    // Browser mode, switched on with the keyboard.
    await page.focus('#browser-mode');
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.body.dataset.browserModel !== undefined, null, {
      timeout: 120_000,
    });
    assert.equal(await page.evaluate(() => document.body.dataset.browserModel), 'ready', problems.join('\n'));
    const status = await page.textContent('#status');
    t.diagnostic(`browser model: ${status}`);
    assert.match(status ?? '', /^The fp32 model \([\d.]+ MB\) runs in this browser/);
    await page.setInputFiles('#file-input', { name: 'photo.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    const [browser1] = await cards(5);
    assert.equal(browser1.state, 'done', browser1.meta);
    assert.equal(browser1.mode, 'browser');
    assert.match(
      browser1.meta,
      /^This browser · \d+ ms ?decode \d+ ms, resize \d+ ms, inference \d+ ms \(WebAssembly, \d threads?\)/,
    );
    const diff = Math.abs(browser1.probability - expected);
    t.diagnostic(
      `P(smoking): server ${expected.toFixed(5)}, browser ${browser1.probability.toFixed(5)} (|diff| ${diff.toExponential(2)})`,
    );
    t.diagnostic(`server card: ${server1.meta}`);
    t.diagnostic(`browser card: ${browser1.meta}`);
    assert.ok(diff < 0.01, `browser and server differ by ${diff}`);
    assert.equal(browser1.cls, server1.cls);

    // A file that is not an image: an error card in browser mode, the page goes on.
    await page.setInputFiles('#file-input', {
      name: 'notes.jpg',
      mimeType: 'image/jpeg',
      buffer: Buffer.from('not a photo'),
    });
    const [bad] = await cards(6);
    assert.equal(bad.state, 'error');
    assert.match(bad.meta, /not an image/);

    // Back to server mode; the webcam (Chromium's synthetic camera) gives a frame to check.
    await page.click('label.switch');
    assert.equal(await page.isChecked('#browser-mode'), false);
    await page.click('#camera-start');
    await page.waitForFunction(() => document.getElementById('camera-video').videoWidth > 0);
    await page.click('#camera-capture');
    const [cam] = await cards(7, 5);
    assert.match(cam.name, /^webcam-\d{6}\.jpg$/);
    assert.equal(cam.state, 'done', cam.meta);
    assert.equal(cam.mode, 'server');
    await page.click('#camera-stop');

    // Accessibility basics: every image has a text alternative, every control a name.
    assert.equal(await page.locator('img:not([alt]), img[alt=""]').count(), 0);
    const unnamed = await page.$$eval('button, input', (els) =>
      els
        .filter((e) => {
          const el = e as Dom;
          if (el.hidden || el.closest('[hidden]')) return false;
          const label = el.id ? document.querySelector(`label[for="${el.id}"]`) : null;
          return !(el.textContent?.trim() || el.getAttribute('aria-label') || label || el.closest('label'));
        })
        .map((e) => e.outerHTML),
    );
    assert.deepEqual(unnamed, []);

    const shot = join(dir, 'page.png');
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.SMOKER_SCREENSHOT_DIR) {
      mkdirSync(process.env.SMOKER_SCREENSHOT_DIR, { recursive: true });
      copyFileSync(shot, join(process.env.SMOKER_SCREENSHOT_DIR, 'serve-page.png'));
    }
    t.diagnostic(`screenshot: ${shot}`);

    // Everything came from this server: no CDN, no other origin.
    const foreign = requests.filter((u) => !u.startsWith(server.url) && !/^(data|blob):/.test(u));
    assert.deepEqual(foreign, []);
    assert.ok(requests.some((u) => u.endsWith('/ort/ort-wasm-simd-threaded.wasm')));
    assert.deepEqual(problems, []);
  },
);

test(
  'with serve --precision fp16 the page runs model_fp16.onnx in the browser, and agrees with the server',
  { skip },
  async () => {
    const run = await makeRunFolder(join(dir, 'fp16-run'));
    await exportRun(run, 'onnx-fp16', {
      out: join(dir, 'fp16-out'),
      calibration: 1,
      calibrationMethod: 'minmax',
      maxBatch: 8,
    });
    const fp16 = await startServer({
      ...SERVE_DEFAULTS,
      model: run,
      port: 0,
      threads: 1,
      precision: 'fp16',
      log: () => {},
    });
    const p = await context.newPage();
    const fetched: string[] = [];
    p.on('response', (r) => fetched.push(`${new URL(r.url()).pathname} ${r.headers()['content-length']}`));
    try {
      await p.goto(fp16.url + '/');
      await p.waitForFunction(() => !/Loading/.test(document.getElementById('model-summary')!.textContent!));
      await p.focus('#browser-mode');
      await p.keyboard.press('Space');
      await p.waitForFunction(() => document.body.dataset.browserModel !== undefined, null, {
        timeout: 120_000,
      });
      assert.match(
        (await p.textContent('#status')) ?? '',
        /^The fp16 model \([\d.]+ MB\) runs in this browser/,
      );
      const size = readFileSync(join(run, 'model_fp16.onnx')).length;
      assert.ok(fetched.includes(`/v1/model.onnx ${size}`), fetched.join('\n'));
      await p.setInputFiles('#file-input', {
        name: 'photo.jpg',
        mimeType: 'image/jpeg',
        buffer: await testJpeg(),
      });
      await p.waitForSelector('.result[data-state="done"], .result[data-state="error"]');
      assert.equal(await p.getAttribute('.result', 'data-mode'), 'browser');
      const probability = Number(await p.getAttribute('.result', 'data-probability'));
      const res = await fetch(`${fp16.url}/v1/predict`, {
        method: 'POST',
        body: await testJpeg(),
        headers: { 'content-type': 'image/jpeg' },
      });
      const served = ((await res.json()) as { probability: number }).probability;
      assert.ok(Math.abs(probability - served) < 0.01, `browser ${probability} vs server ${served}`);
    } finally {
      await p.close();
      await fp16.close();
    }
  },
);
