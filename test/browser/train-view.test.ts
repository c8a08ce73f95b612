import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { unzipSync } from 'fflate';
import type { BrowserContext, Page } from 'playwright-core';
import { discoverDataset } from '../../src/data/dataset.js';
import { decodeResized } from '../../src/data/image.js';
import type { Sample } from '../../src/data/sample.js';
import { explainImage } from '../../src/eval/explain-image.js';
import { loadGradCam } from '../../src/run/saved-model.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { runCli } from '../cli/cli-fixture.js';
import { chromiumSkip, INSECURE_HOST, launchChromium, type Chromium } from '../helpers/chromium.js';
import { sharedPath } from '../helpers/shared.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { makeRunFolder } from '../serve/fixtures.js';

/*
 * The Train view, driven as a user would in Debian's Chromium: photos added per class, a real training
 * of MobileNetV2 + LoRA in the page's Web Worker, the run folder downloaded and checked by
 * `smoker-lora evaluate`, predictions, Stop, and a saved model surviving a reload.
 */

// The in-page callbacks run in Chromium; the project compiles without the DOM lib.
type Dom = any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const document: Dom;
declare const performance: Dom;
declare const window: Dom;

const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');
const photos = sharedPath('data/smoking/Training/Training');
const skip = chromiumSkip || mobilenet.skip || photos.skip;
const PER_CLASS = 48;

const dir = tempDir('smoker-train-view-', after);
let server: RunningServer;
let browser: Chromium | undefined;
let context: BrowserContext;
let page: Page;
const problems: string[] = [];

/** The first `n` photos of a class, by name, as playwright file payloads. */
function classPhotos(prefix: string, n: number) {
  return readdirSync(photos.path)
    .filter((f) => f.startsWith(prefix))
    .sort()
    .slice(0, n)
    .map((name) => ({ name, mimeType: 'image/jpeg', buffer: readFileSync(join(photos.path, name)) }));
}

before(async () => {
  if (skip) return;
  server = await startServer({
    ...SERVE_DEFAULTS,
    model: await makeRunFolder(join(dir, 'run')),
    backbone: mobilenet.path,
    port: 0,
    threads: 1,
    allowedHosts: [INSECURE_HOST],
    log: () => {},
  });
  browser = await launchChromium();
  context = browser.context;
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(server.url + '/train');
  await page.waitForFunction(() => document.body.dataset.ready === 'yes' && document.body.dataset.backbone);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

async function setSettings(s: Record<string, string>) {
  for (const [id, v] of Object.entries(s)) {
    if (id === 'image-size') await page.selectOption('#image-size', v);
    else await page.fill(`#${id}`, v);
  }
}

async function clearPhotos() {
  await page.click('#clear-0');
  await page.click('#clear-1');
}

/** Clicks Train and waits for the refusal or the end. */
async function trainAndWait(): Promise<void> {
  await page.click('#train');
  await page.waitForFunction(() => document.body.dataset.training === 'no', null, { timeout: 300_000 });
}

test('refuses what the CLI refuses, in the same words', { skip, timeout: 120_000 }, async () => {
  assert.equal(
    await page.textContent('#backbone-summary').then((s) => /mobilenet_v2_1\.0_224\/model\.onnx/.test(s!)),
    true,
  );
  await page.setInputFiles('#photos-0', classPhotos('notsmoking_', 2));
  await page.setInputFiles('#photos-1', classPhotos('smoking_', 2));
  assert.equal(await page.textContent('#count-0'), '2 photos');
  await trainAndWait();
  assert.equal(
    await page.textContent('#train-error'),
    "the photos: class 'notsmoking' has 2 image(s), too few to split 64/16/20; add images or use split folders",
  );

  // A file that is not a photo: the CLI's decoder and the page's give the same sentence.
  await page.setInputFiles('#photos-0', [
    ...classPhotos('notsmoking_', 10),
    { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo') },
  ]);
  await page.setInputFiles('#photos-1', classPhotos('smoking_', 10));
  const cli = await decodeResized(Buffer.from('not a photo'), [224, 224], 'notes.jpg').catch(
    (e: Error) => e.message,
  );
  await trainAndWait();
  assert.equal(await page.textContent('#train-error'), cli);

  // Accessibility basics, as on the main page: every image has a text alternative, every control a name.
  assert.equal(await page.locator('img:not([alt]), img[alt=""]').count(), 0);
  const unnamed = await page.$$eval('button, input, select', (els) =>
    els
      .filter((e) => {
        const el = e as Dom;
        if (el.closest('[hidden]')) return false;
        const label = el.id ? document.querySelector(`label[for="${el.id}"]`) : null;
        return !(el.textContent?.trim() || el.getAttribute('aria-label') || label || el.closest('label'));
      })
      .map((e) => (e as Dom).outerHTML),
  );
  assert.deepEqual(unnamed, []);
  await clearPhotos();
});

test(
  'trains MobileNetV2 + LoRA in the page: the loss falls, the page stays responsive, evaluate agrees with the page',
  { skip, timeout: 400_000 },
  async (t) => {
    await page.fill('#class-name-0', 'notsmoking');
    await page.setInputFiles('#photos-0', classPhotos('notsmoking_', PER_CLASS));
    await page.setInputFiles('#photos-1', classPhotos('smoking_', PER_CLASS));
    assert.equal(await page.textContent('#count-1'), `${PER_CLASS} photos`);
    assert.equal(await page.locator('#thumbs-1 img').count(), 24);
    await setSettings({ epochs: '3', batch: '16', lr: '0.001', 'image-size': '128', threads: '2' });

    const t0 = performance.now();
    await page.click('#train');
    // Responsiveness during training: a key press in a text field is handled within 200 ms.
    await page.waitForFunction(() => Number(document.body.dataset.imgPerSec) > 0, null, { timeout: 120_000 });
    await page.evaluate(() => {
      const delays: number[] = [];
      window.inputDelays = delays;
      document
        .getElementById('class-name-0')
        .addEventListener('keydown', (e: Dom) => delays.push(performance.now() - e.timeStamp));
    });
    await page.focus('#class-name-0');
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press('End');
      await new Promise((r) => setTimeout(r, 300));
    }
    const handle = await page.waitForFunction(() => window.inputDelays.length >= 5 && window.inputDelays);
    const delays = (await handle.jsonValue()) as number[];
    t.diagnostic(`input delays during training: ${delays.map((d) => d.toFixed(0)).join(', ')} ms`);
    assert.ok(Math.max(...delays) < 200, `an input event waited ${Math.max(...delays)} ms`);

    await page.waitForFunction(() => document.body.dataset.training === 'no', null, { timeout: 300_000 });
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(await page.textContent('#train-error'), '', 'no error');
    const rows = await page.$$eval('#epochs-table tbody tr', (trs: Dom[]) =>
      trs.map((tr) => [...tr.cells].map((c: Dom) => c.textContent)),
    );
    t.diagnostic(`trained in ${seconds.toFixed(0)} s: ${await page.textContent('#train-status')}`);
    for (const r of rows) t.diagnostic(`epoch ${r.join(' | ')}`);
    t.diagnostic(`last speed line: ${await page.textContent('#speed')}`);
    assert.equal(rows.length, 3);
    const losses = rows.map((r: string[]) => Number(r[1]));
    assert.ok(losses[2] < losses[0], `training loss ${losses.join(' -> ')} did not fall`);
    const pageAcc = Number(await page.getAttribute('#result-summary', 'data-accuracy'));
    const pageLogLoss = Number(await page.getAttribute('#result-summary', 'data-log-loss'));
    assert.match((await page.textContent('#train-status')) ?? '', /validation accuracy \d+\.\d%/);

    // The downloaded run folder, unzipped, is what `smoker-lora evaluate` reads.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dl-zip')]);
    assert.equal(download.suggestedFilename(), 'browser-run.zip');
    const zipPath = join(dir, 'browser-run.zip');
    await download.saveAs(zipPath);
    const files = unzipSync(new Uint8Array(readFileSync(zipPath)));
    const runDir = join(dir, 'downloaded');
    for (const [name, bytes] of Object.entries(files)) {
      mkdirSync(join(dir, 'downloaded', ...name.split('/').slice(1, -1)), { recursive: true });
      writeFileSync(join(runDir, ...name.split('/').slice(1)), bytes);
    }
    assert.deepEqual(readdirSync(runDir).sort(), [
      'adapter_config.json',
      'adapter_model.safetensors',
      'config.json',
      'history.json',
      'metrics.json',
      'model.onnx',
    ]);
    // The validation photos the page chose, as named files in one folder.
    const val = JSON.parse((await page.getAttribute('#split', 'data-val'))!) as string[];
    const valDir = join(dir, 'validation');
    mkdirSync(valDir);
    for (const name of val) copyFileSync(join(photos.path, name), join(valDir, name));
    const out = join(dir, 'evaluation');
    const r = await runCli(['evaluate', '--model', runDir, '--data', valDir, '--out', out, '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    const cli = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as {
      accuracy: number;
      log_loss: number;
      n: number;
    };
    t.diagnostic(
      `validation (${cli.n} photos): page accuracy ${pageAcc.toFixed(4)} log loss ${pageLogLoss.toFixed(4)}; ` +
        `smoker-lora evaluate accuracy ${cli.accuracy.toFixed(4)} log loss ${cli.log_loss.toFixed(4)}`,
    );
    assert.equal(cli.n, val.length);
    assert.equal(cli.accuracy, pageAcc);
    // The browser's JPEG decoder and resize differ from sharp's by a level or two of a pixel.
    assert.ok(Math.abs(cli.log_loss - pageLogLoss) < 0.02, `log loss ${cli.log_loss} vs ${pageLogLoss}`);

    // Predictions in the page, with the trained model.
    await page.setInputFiles('#predict-input', classPhotos('smoking_', 60).slice(50, 52));
    await page.waitForFunction(
      () => document.querySelectorAll('#predictions li[data-state="done"]').length === 2,
    );
    const labels = await page.$$eval('#predictions li', (lis: Dom[]) => lis.map((li) => li.dataset.label));
    assert.ok(labels.every((l: string) => l === 'smoking' || l === 'notsmoking'));
    // Each with the Grad-CAM overlay, whose map is the one `smoker-lora explain` makes of the same file.
    await page.waitForFunction(
      () => document.querySelectorAll('#predictions li[data-overlay="yes"]').length === 2,
    );
    assert.match((await page.textContent('#heat-note'))!, /Grad-CAM heat map/);
    const heat = await page.$$eval('#predictions li', (lis: Dom[]) =>
      lis.map((li) => [li.querySelector('.name').textContent, Number(li.dataset.heatMean)]),
    );
    const cam = await loadGradCam(runDir, { threads: 1 });
    try {
      for (const [name, mean] of heat as [string, number][]) {
        const e = await explainImage(cam, join(photos.path, name));
        const nodeMean = e.heatmap.reduce((a, v) => a + v, 0) / e.heatmap.length;
        t.diagnostic(`${name}: heat map mean ${mean.toFixed(4)} in the page, ${nodeMean.toFixed(4)} in Node`);
        assert.ok(Math.abs(mean - nodeMean) < 0.02, `${name}: heat map mean ${mean} vs ${nodeMean}`);
      }
    } finally {
      await cam.release();
    }
    await page.click('#predictions li .toggle-view');
    assert.equal(await page.getAttribute('#predictions li .toggle-view', 'aria-pressed'), 'true');
    assert.deepEqual(problems, []);
  },
);

test(
  'Stop keeps the best epoch so far; a saved model survives a reload',
  { skip, timeout: 400_000 },
  async (t) => {
    await page.click('#save');
    await page.waitForFunction(() => document.body.dataset.result === 'saved');
    const savedAcc = await page.getAttribute('#result-summary', 'data-accuracy');

    // A longer run, stopped once its first epoch is in: the result is that epoch.
    await setSettings({ epochs: '20' });
    await page.click('#train');
    await page.waitForFunction(() => document.querySelectorAll('#epochs-table tbody tr').length >= 1, null, {
      timeout: 300_000,
    });
    await page.click('#stop');
    await page.waitForFunction(() => document.body.dataset.training === 'no', null, { timeout: 120_000 });
    const status = (await page.textContent('#train-status'))!;
    t.diagnostic(status);
    assert.match(status, /^Stopped: kept epoch [12]; validation accuracy/);
    const epochs = await page.locator('#epochs-table tbody tr').count();
    assert.ok(epochs < 20);
    assert.equal((await page.getAttribute('#result-summary', 'data-accuracy')) !== null, true);

    // The saved model (the first run's) is back after a reload, and predicts.
    await page.reload();
    await page.waitForFunction(
      () => document.body.dataset.result === 'saved' && document.body.dataset.predictor === 'ready',
      null,
      {
        timeout: 120_000,
      },
    );
    assert.equal(await page.getAttribute('#result-summary', 'data-accuracy'), savedAcc);
    assert.match((await page.textContent('#result-summary'))!, /^Saved in this browser on /);
    await page.setInputFiles('#predict-input', classPhotos('notsmoking_', 1));
    await page.waitForFunction(
      () => document.querySelectorAll('#predictions li[data-state="done"]').length === 1,
    );
    assert.deepEqual(problems, []);
  },
);

/** A data set folder `name` under the test's folder, holding copies of the shared photos at `layout`'s paths. */
function dataSetFolder(name: string, layout: Record<string, string[]>): string {
  const root = join(dir, 'sets', name);
  for (const [folder, files] of Object.entries(layout)) {
    mkdirSync(join(root, folder), { recursive: true });
    for (const f of files) copyFileSync(join(photos.path, f), join(root, folder, f));
  }
  return root;
}

const shared = (prefix: string, from: number, to: number) =>
  readdirSync(photos.path)
    .filter((f) => f.startsWith(prefix))
    .sort()
    .slice(from, to);

test(
  'a whole data set folder is found and split as the CLI finds and splits it, and trained on that split',
  { skip, timeout: 300_000 },
  async (t) => {
    const kaggle = dataSetFolder('kaggle', {
      'Training/Training': [...shared('notsmoking_', 0, 12), ...shared('smoking_', 0, 12)],
      'Validation/Validation': [...shared('notsmoking_', 12, 16), ...shared('smoking_', 12, 16)],
    });
    const classFolders = dataSetFolder('class-folders', {
      Not_Smoking: shared('notsmoking_', 20, 40),
      'smoking/more': shared('smoking_', 20, 30),
      smoking: shared('smoking_', 30, 40),
    });
    const cli = (root: string, seed: number) => {
      const ds = discoverDataset(root, { seed });
      const rel = (s: Sample) => [relative(join(root, '..'), s.path), s.label];
      return { train: ds.splits.train.map(rel), val: ds.splits.val.map(rel), test: ds.splits.test.map(rel) };
    };
    const pageSplit = async () =>
      JSON.parse((await page.getAttribute('#dataset-table', 'data-splits'))!) as ReturnType<typeof cli>;
    for (const [root, seed] of [
      [kaggle, 42],
      [classFolders, 42],
      [classFolders, 3],
    ] as const) {
      await page.fill('#seed', String(seed));
      await page.setInputFiles('#dataset-folder', root);
      await page.waitForFunction(() => document.getElementById('dataset-table').dataset.splits);
      const got = await pageSplit();
      assert.deepEqual(got, cli(root, seed), `${root}, seed ${seed}`);
      const counts = await page.$$eval('#dataset-table tbody tr', (trs: Dom[]) =>
        trs.map((tr) => [...tr.cells].map((c: Dom) => c.textContent).join(' ')),
      );
      t.diagnostic(`${root.split('/').pop()}, seed ${seed}: ${counts.join('; ')}`);
      assert.equal(await page.inputValue('#class-name-0'), 'notsmoking');
      assert.equal(await page.textContent('#count-1'), `${root === kaggle ? 16 : 20} photos`);
    }
    // The seed decides an unsplit folder's split, as for the CLI: changing it splits again.
    await page.fill('#seed', '42');
    await page.dispatchEvent('#seed', 'change');
    assert.deepEqual(await pageSplit(), cli(classFolders, 42));

    // The worker trains on exactly that split.
    await setSettings({ epochs: '1', batch: '16', 'image-size': '96', threads: '2' });
    await trainAndWait();
    assert.equal(await page.textContent('#train-error'), '', 'no error');
    const val = JSON.parse((await page.getAttribute('#split', 'data-val'))!) as string[];
    assert.deepEqual(
      val,
      cli(classFolders, 42).val.map(([p]) => p),
    );
    assert.match(
      (await page.textContent('#split'))!,
      /class folders in class-folders, split 64\/16\/20 stratified \(seed 42\)/,
    );

    // What the CLI refuses, the page refuses in its words (the folder's name for `--data <path>`): one
    // class only, and too few photos of a class to split.
    const refused = {
      one: { cats: shared('smoking_', 0, 5) },
      few: { smoking: shared('smoking_', 0, 9), notsmoking: shared('notsmoking_', 0, 2) },
    };
    for (const [name, layout] of Object.entries(refused)) {
      const root = dataSetFolder(name, layout);
      await page.setInputFiles('#dataset-folder', root);
      const r = await runCli([
        'train',
        '--data',
        root,
        '--out',
        join(dir, `refused-${name}`),
        '--epochs',
        '1',
      ]);
      assert.notEqual(r.code, 0);
      const said = (await page.textContent('#train-error'))!;
      t.diagnostic(`${name}: ${said}`);
      const cli = [said.replace(`${name}:`, `--data ${root}:`), said.replace(`${name}:`, `${root}:`)];
      assert.ok(said.length > 0 && cli.some((c) => r.stderr.includes(c)), `page: ${said} / CLI: ${r.stderr}`);
    }

    // Three class folders: a box per class with its photos, the CLI's split, and a 3-class model that
    // predicts in the page with the probability of the class it says.
    const three = dataSetFolder('three', {
      a: shared('smoking_', 0, 5),
      b: shared('smoking_', 5, 10),
      c: shared('notsmoking_', 0, 5),
    });
    await page.setInputFiles('#dataset-folder', three);
    await page.waitForFunction(() => document.body.dataset.classes === '3');
    assert.deepEqual(await pageSplit(), cli(three, 42));
    const boxes = await page.$$eval('#classes fieldset', (fs: Dom[]) =>
      fs.map((f) => [
        f.querySelector('legend').textContent,
        f.querySelector('.class-name').value,
        f.querySelector('.count').textContent,
      ]),
    );
    assert.deepEqual(boxes, [
      ['Class 1', 'a', '5 photos'],
      ['Class 2', 'b', '5 photos'],
      ['Class 3', 'c', '5 photos'],
    ]);
    await trainAndWait();
    assert.equal(await page.textContent('#train-error'), '');
    assert.match((await page.textContent('#result-summary'))!, /3 classes, macro F1 \d\.\d{3}/);
    await page.setInputFiles('#predict-input', classPhotos('notsmoking_', 1));
    await page.waitForFunction(() => document.querySelector('#predictions li')?.dataset.state === 'done');
    const verdict = (await page.textContent('#predictions li .verdict'))!;
    assert.match(verdict, /^([abc]), P\(\1\) \d+\.\d%/);
    assert.deepEqual(problems, []);
  },
);

test(
  'a class is added with its photos and count, and removed, by keyboard',
  { skip, timeout: 60_000 },
  async () => {
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.ready === 'yes');
    const legends = () => page.$$eval('#classes legend', (ls: Dom[]) => ls.map((l) => l.textContent));
    assert.deepEqual(await legends(), ['Class 1', 'Class 2 (the positive class)']);
    assert.equal(await page.isDisabled('#remove-0'), true, 'two classes are the fewest');
    await page.focus('#add-class');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.body.dataset.classes === '3');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'class-name-2');
    await page.keyboard.type('vaping');
    assert.deepEqual(await legends(), ['Class 1', 'Class 2', 'Class 3']);
    await page.setInputFiles('#photos-2', classPhotos('smoking_', 3));
    assert.equal(await page.textContent('#count-2'), '3 photos');
    assert.equal(await page.locator('#thumbs-2 img').count(), 3);
    assert.equal(await page.getAttribute('#remove-2', 'aria-label'), 'Remove class 3');
    assert.equal(await page.isDisabled('#remove-0'), false);
    await page.focus('#remove-2');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.body.dataset.classes === '2');
    assert.equal(await page.locator('#class-name-2').count(), 0);
    assert.deepEqual(await legends(), ['Class 1', 'Class 2 (the positive class)']);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'class-name-1');
    assert.equal(await page.isDisabled('#remove-1'), true);
    assert.deepEqual(problems, []);
  },
);

test(
  'a webcam frame is captured into the class whose button opened the webcam',
  { skip, timeout: 60_000 },
  async () => {
    // launchChromium gives a synthetic camera that needs no permission prompt.
    await clearPhotos();
    await page.fill('#class-name-1', 'smoking');
    await page.click('#webcam-1');
    await page.waitForFunction(() => document.getElementById('camera-video').videoWidth > 0);
    assert.equal(await page.textContent('#camera-capture'), 'Capture a photo of smoking');
    await page.click('#camera-capture');
    await page.waitForFunction(() => document.body.dataset.photos1 === '1');
    await page.click('#camera-capture');
    await page.waitForFunction(() => document.body.dataset.photos1 === '2');
    assert.equal(await page.textContent('#count-0'), 'No photos yet.');
    assert.equal(await page.textContent('#count-1'), '2 photos');
    // The frame is a real photo: its thumbnail decodes.
    await page.waitForFunction(() => {
      const img = document.querySelector('#thumbs-1 img');
      return img && img.complete && img.naturalWidth > 0;
    });
    assert.match((await page.getAttribute('#thumbs-1 img', 'alt'))!, /^webcam-smoking-\d+-\d+\.jpg$/);
    await page.click('#camera-stop');
    assert.equal(await page.isHidden('#camera'), true);
    assert.deepEqual(problems, []);
  },
);

test(
  'on a page that is not secure the webcam buttons are off and the page says why',
  { skip, timeout: 60_000 },
  async () => {
    // Browsers give getUserMedia only to secure pages: https, or http on localhost.
    const insecure = await context.newPage();
    const url = new URL('/train', server.url);
    url.hostname = INSECURE_HOST;
    await insecure.goto(url.href);
    await insecure.waitForFunction(() => document.body.dataset.ready === 'yes');
    assert.equal(await insecure.evaluate(() => window.isSecureContext), false);
    assert.equal(await insecure.isVisible('#webcam-note'), true);
    assert.equal(
      await insecure.textContent('#webcam-note'),
      'The webcam needs a secure page (https, or http on localhost); add photos from files instead.',
    );
    const buttons = insecure.locator('#classes .webcam');
    assert.equal(await buttons.count(), 2);
    for (const b of await buttons.all()) assert.equal(await b.isDisabled(), true);
    // Photos from files still work there.
    await insecure.setInputFiles('#photos-0', classPhotos('notsmoking_', 2));
    assert.equal(await insecure.textContent('#count-0'), '2 photos');
    await insecure.close();
    // The secure page (localhost) keeps its webcam.
    assert.equal(await page.isDisabled('#webcam-0'), false);
    assert.deepEqual(problems, []);
  },
);
