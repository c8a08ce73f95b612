import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadSafetensors } from '../../src/weights/safetensors-file.js';
import { chromiumSkip, launchChromium } from '../helpers/chromium.js';
import { type Card, resultCards } from '../helpers/result-cards.js';
import { spawnServe } from '../serve/fixtures.js';
import { tempDir, tinyImage, writeTinyBackbone } from '../helpers/tiny-dataset.js';
import { linesOf, oneLineError, readJson, runCli, type CliResult } from './cli-fixture.js';

// Three classes in class folders under split folders; ImageFolder's rule sorts their names.
const CLASSES = ['bird', 'cat', 'dog'];
const PER_SPLIT = { train: 4, val: 2, test: 2 };

let root = '';
let data = '';
let weights = '';
let run = '';
let trained: CliResult;
let cleanup: (() => void) | undefined;
// Registered at load, on the file's root (see cli-fixture).
after(() => cleanup?.());

const ok = (r: CliResult) => assert.equal(r.code, 0, `exit code ${r.code}\n${r.stdout}\n${r.stderr}`);
const trainArgs = (out: string, extra: string[] = []) => [
  'train',
  ...['--data', data, '--backbone', 'resnet18', '--weights', weights, '--out', out],
  ...['--image-size', '64', '--epochs', '1', '--batch', '6', '--threads', '2', '--seed', '1'],
  ...extra,
];

before(async () => {
  root = tempDir('smoker-3class-', (fn) => (cleanup = fn));
  data = join(root, 'data');
  let seed = 500;
  for (const [split, n] of Object.entries(PER_SPLIT))
    for (const [c, name] of CLASSES.entries()) {
      const dir = join(data, split, name);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++)
        writeFileSync(join(dir, `${name}_${i + 1}.jpg`), await tinyImage(c === 1, seed++ * (c + 1)));
    }
  weights = await writeTinyBackbone(join(root, 'resnet18-random.safetensors'));
  run = join(root, 'run');
  trained = await runCli(trainArgs(run));
});

interface Multiclass {
  split: string;
  n: number;
  classes: string[];
  decision: string;
  accuracy: number;
  confusion_matrix: number[][];
  per_class: Record<string, { support: number }>;
  macro: { f1: number };
  log_loss: number;
  roc_auc_ovr_macro: number | null;
  roc_auc_ovr_per_class: Record<string, number | null>;
}

/** A K-class metrics.json: its own keys, none of the binary ones, and numbers that agree. */
function assertMulticlass(m: Multiclass, n: number, split: string) {
  assert.deepEqual(m.classes, CLASSES);
  assert.equal(m.split, split);
  assert.equal(m.n, n);
  assert.equal(m.decision, 'most probable class');
  for (const key of ['threshold', 'positive_class', 'precision', 'roc', 'calibration'])
    assert.ok(!(key in m), `no '${key}' in a K-class metrics.json`);
  assert.equal(m.confusion_matrix.length, 3);
  assert.ok(m.confusion_matrix.every((r) => r.length === 3));
  assert.equal(
    m.confusion_matrix.flat().reduce((a, b) => a + b, 0),
    n,
  );
  const trace = m.confusion_matrix.reduce((s, r, i) => s + r[i], 0);
  assert.ok(Math.abs(m.accuracy - trace / n) < 1e-12);
  for (const [i, c] of CLASSES.entries())
    assert.equal(
      m.per_class[c].support,
      m.confusion_matrix[i].reduce((a, b) => a + b, 0),
    );
  assert.ok(Number.isFinite(m.log_loss) && m.log_loss > 0);
  assert.equal(typeof m.roc_auc_ovr_macro, 'number');
  const mean = CLASSES.reduce((s, c) => s + m.roc_auc_ovr_per_class[c]!, 0) / 3;
  assert.ok(Math.abs(m.roc_auc_ovr_macro! - mean) < 1e-12);
}

test('train on three class folders: a 3-way head, K-class metrics.json and report', async () => {
  ok(trained);
  const config = readJson(join(run, 'config.json')) as { classes: string[] };
  assert.deepEqual(config.classes, CLASSES);
  const { tensors } = await loadSafetensors(join(run, 'adapter_model.safetensors'));
  const head = [...tensors].find(([k]) => /fc\.weight$/.test(k));
  assert.ok(head, [...tensors.keys()].join(', '));
  assert.equal(head[1].shape[0], 3);
  assertMulticlass(readJson(join(run, 'metrics.json')) as Multiclass, 6, 'validation');
  const report = readFileSync(join(run, 'report.md'), 'utf8');
  assert.match(report, /^# Classification report/);
  assert.match(report, /\| ROC-AUC \(one-vs-rest, macro\) \| \d\.\d{4} \|/);
  assert.match(report, /\| true \/ predicted \| bird \| cat \| dog \|/);
  assert.ok(!/## ROC curve|## Calibration|counts as/.test(report), 'no two-class sections');
  assert.match(report, /!\[Confusion matrix\]\(confusion-matrix\.png\)/);
  assert.ok(readdirSync(run).includes('confusion-matrix.png'));
});

test('evaluate and predict a 3-class run; the two-class options are refused in one line', async () => {
  const out = join(root, 'eval');
  const e = await runCli(['evaluate', '--model', run, '--data', data, '--out', out, '--threads', '2']);
  ok(e);
  assert.match(e.stdout, /test: 6 samples, 3 classes, the most probable class/);
  assert.match(e.stdout, /roc-auc \(ovr\)/);
  assert.match(e.stdout, /^macro avg /m);
  assertMulticlass(readJson(join(out, 'metrics.json')) as Multiclass, 6, 'test');

  const p = await runCli(['predict', '--model', run, join(data, 'test'), '--json', '--threads', '2']);
  ok(p);
  const rows = linesOf(p.stdout).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(rows.length, 6);
  for (const r of rows) {
    const probs = r.probabilities as Record<string, number>;
    assert.deepEqual(Object.keys(probs), CLASSES);
    assert.ok(Math.abs(Object.values(probs).reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.equal(r.probability, probs[r.label as string]);
    assert.equal(r.probability, Math.max(...Object.values(probs)));
  }
  const table = await runCli(['predict', '--model', run, join(data, 'test/cat'), '--threads', '2']);
  ok(table);
  assert.match(linesOf(table.stdout)[0], /^file {2}label {2}P\(label\) {2}time\/image$/);
  assert.match(linesOf(table.stdout)[1], /cat_1\.jpg {2}(bird|cat|dog) +0\.\d{4} {2}/);

  const refusal = /applies to two-class models only; this one has 3 classes \(bird, cat, dog\)/;
  const threshold = ['--threshold', '0.3', '--threads', '1'];
  for (const [args, option] of [
    [['evaluate', '--model', run, '--data', data, ...threshold], '--threshold'],
    [
      ['evaluate', '--model', run, '--data', data, '--target-recall', '0.9', '--threads', '1'],
      '--target-recall',
    ],
    [['predict', '--model', run, join(data, 'test/cat'), ...threshold], '--threshold'],
    [trainArgs(join(root, 'refused-threshold'), ['--threshold', '0.3']), '--threshold'],
  ] as const)
    oneLineError(await runCli([...args]), new RegExp(`^smoker-lora: ${option}: ${refusal.source}`));
  oneLineError(
    await runCli(trainArgs(join(root, 'refused-weights'), ['--class-weights', '1,2'])),
    /^smoker-lora: --class-weights: 2 weights for 3 classes \(bird, cat, dog\); give one per class$/,
  );
  oneLineError(
    await runCli(['cv', ...trainArgs(join(root, 'refused-cv'), ['--folds', '2']).slice(1)]),
    /found 3 classes \(bird, cat, dog\); cross-validation measures two-class runs only/,
  );
});

test('serve a 3-class run: every class probability in /v1/predict, the said class explained', async () => {
  const { child, url } = await spawnServe(['--model', run, '--port', '0', '--threads', '1']);
  try {
    const model = (await (await fetch(`${url}/v1/model`)).json()) as Record<string, unknown>;
    assert.deepEqual(model.classes, CLASSES);
    assert.equal(model.decision, 'most probable class');
    assert.ok(!('threshold' in model) && !('positiveClass' in model));
    const photo = readFileSync(join(data, 'test/dog/dog_1.jpg'));
    const post = (path: string) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo });
    const p = (await (await post('/v1/predict')).json()) as Record<string, unknown>;
    const probs = p.probabilities as Record<string, number>;
    assert.deepEqual(Object.keys(probs), CLASSES);
    assert.equal(p.probability, probs[p.label as string]);
    assert.equal(p.probability, Math.max(...Object.values(probs)));
    assert.ok(!('threshold' in p));
    const e = (await (await post('/v1/explain?format=json')).json()) as Record<string, unknown>;
    assert.equal(e.label, p.label);
    assert.ok(Math.abs((e.probability as number) - (p.probability as number)) < 1e-6);
    const v2 = (await (await fetch(`${url}/v2/models/run`)).json()) as { outputs: { shape: number[] }[] };
    assert.deepEqual(
      v2.outputs.map((o) => o.shape),
      [
        [-1, 3],
        [-1, 3],
      ],
    );
  } finally {
    child.kill();
  }
});

// The page's in-page callbacks run in Chromium; the project compiles without the DOM lib.
type Dom = any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const document: Dom;

test(
  'the serve page with a 3-class run: the classes, each photo its most probable class in server and browser mode, counts per class',
  { skip: chromiumSkip, timeout: 300_000 },
  async () => {
    const { child, url } = await spawnServe(['--model', run, '--port', '0', '--threads', '1']);
    const browser = await launchChromium();
    try {
      const page = browser.context.pages()[0] ?? (await browser.context.newPage());
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(url + '/');
      await page.waitForFunction(() => !/Loading/.test(document.getElementById('model-summary').textContent));
      assert.match(
        (await page.textContent('#model-details')) ?? '',
        /classes Bird \/ Cat \/ Dog, the most probable class/,
      );
      const names = ['test/bird/bird_1.jpg', 'test/dog/dog_1.jpg'];
      const files = names.map((n) => ({
        name: n.split('/').at(-1)!,
        mimeType: 'image/jpeg',
        buffer: readFileSync(join(data, n)),
      }));
      const api = await Promise.all(
        files.map(async (f) => {
          const r = await fetch(`${url}/v1/predict`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg' },
            body: f.buffer,
          });
          return (await r.json()) as { label: string; probability: number };
        }),
      );
      const expectCards = (got: Card[], mode: string) => {
        for (const [i, f] of files.entries()) {
          const c = got.find((g) => g.name === f.name && g.mode === mode)!;
          assert.equal(c.cls, api[i].label, `${mode} ${f.name}`);
          assert.ok(Math.abs(c.probability - api[i].probability) < 1e-4, `${mode} ${f.name}`);
          // The probability shown is the said class's, with no threshold mark.
          assert.match(c.prob, new RegExp(`^P\\(${api[i].label}\\) `));
          assert.equal(c.markHidden, true);
        }
      };
      const counts = (where: string) =>
        `Checked 2 photos ${where}: ` +
        CLASSES.map((c) => `${api.filter((a) => a.label === c).length} ${c}`).join(', ') +
        '.';

      await page.setInputFiles('#file-input', files);
      expectCards(await resultCards(page, 2), 'server');
      await page.waitForFunction(
        (t) => document.getElementById('status').textContent === t,
        counts('on the server'),
      );

      await page.check('#browser-mode');
      await page.waitForFunction(() => document.body.dataset.browserModel === 'ready', null, {
        timeout: 120_000,
      });
      await page.setInputFiles('#file-input', files);
      expectCards(await resultCards(page, 4), 'browser');
      await page.waitForFunction(
        (t) => document.getElementById('status').textContent === t,
        counts('in this browser'),
      );
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      child.kill();
    }
  },
);
