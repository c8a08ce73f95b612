import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { probabilities } from '../../src/classify/classify.js';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';
import { exportRun } from '../../src/export/export-run.js';
import { f32 } from '../../src/graph/tensor.js';
import type { Preprocess } from '../../src/models/backbone.js';
import { RUN_FILES } from '../../src/run/files.js';
import { SavedModel } from '../../src/run/saved-model.js';
import { Session } from '../../src/runtime/session.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer } from '../../src/serve/server.js';
import { oneLineError, runCli } from '../cli/cli-fixture.js';
import { tempDir, writeTinyDataset } from '../helpers/tiny-dataset.js';
import { relMaxDiff } from '../quantize/fixtures.js';
import { makeRunFolder, testJpeg } from '../serve/fixtures.js';
import { onnxCheck, pythonSkip } from './fixtures.js';

const dir = tempDir('smoker-export-onnx-', after);
const run = join(dir, 'tiny-run');
const data = join(dir, 'data');
const onnxSkip = pythonSkip(['onnx']);
let x: ReturnType<typeof f32>;

const OPTS = { calibration: 16, calibrationMethod: 'minmax' as const, maxBatch: 32, threads: 1 };

before(async () => {
  await writeTinyDataset(data, { Training: 16, Validation: 4 });
  await makeRunFolder(run, 7, { data });
  // makeRunFolder's preprocessing: 64x64, ImageNet mean and std.
  const p: Preprocess = { size: [64, 64], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const chw = toCHW((await decodeResized(await testJpeg(), p.size)).rgb, p.size, p);
  x = f32([1, 3, 64, 64], chw);
});

async function outputsOf(path: string) {
  const s = await Session.create(readFileSync(path), { threads: 1 });
  try {
    const out = await s.run({ input: x });
    return { logits: out.logits.data as Float32Array, features: out.features.data as Float32Array };
  } finally {
    await s.release();
  }
}

test('onnx-fp16: half the file, outputs within 3e-3 of float32, copied into the run, a model card beside it', async () => {
  const out = join(dir, 'fp16');
  const files = await exportRun(run, 'onnx-fp16', { ...OPTS, out });
  assert.deepEqual(files, ['model_fp16.onnx', 'README.md']);
  const [fp32, fp16] = [join(run, RUN_FILES.model), join(out, 'model_fp16.onnx')];
  assert.deepEqual(readFileSync(join(run, RUN_FILES.modelFp16)), readFileSync(fp16));
  const ratio = readFileSync(fp16).length / readFileSync(fp32).length;
  assert.ok(ratio < 0.52, `fp16 file is ${ratio.toFixed(3)} of float32`);
  const [a, b] = [await outputsOf(fp32), await outputsOf(fp16)];
  // Measured 1.0e-3 of the largest logit (a random network's logits are small differences of large
  // features); float16 weights carry 11 bits, the arithmetic stays float32.
  assert.ok(relMaxDiff(b.logits, a.logits) < 3e-3, `logits ${relMaxDiff(b.logits, a.logits)}`);
  const card = readFileSync(join(out, 'README.md'), 'utf8');
  for (const s of [
    'Detects **smoking**',
    '## Validation',
    'On 6 validation images: accuracy 66.7%',
    '64x64',
    'mean [0.485,0.456,0.406]',
    '## Limits',
  ])
    assert.ok(card.includes(s), `the card says '${s}'`);
});

test('onnx-int8 from the CLI: calibrated on training images, QDQ that ORT runs, close to float32', async () => {
  const out = join(dir, 'int8');
  const r = await runCli([
    'export',
    '--model',
    run,
    '--format',
    'onnx-int8',
    '--out',
    out,
    '--calibration',
    '16',
    '--threads',
    '1',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /onnx-int8: wrote .*model_int8\.onnx, .*README\.md/);
  const int8 = join(out, 'model_int8.onnx');
  assert.deepEqual(readFileSync(join(run, RUN_FILES.modelInt8)), readFileSync(int8));
  const [a, b] = [await outputsOf(join(run, RUN_FILES.model)), await outputsOf(int8)];
  assert.ok(relMaxDiff(b.features, a.features) < 0.05, `features ${relMaxDiff(b.features, a.features)}`);
  assert.ok(readFileSync(int8).length < readFileSync(join(run, RUN_FILES.model)).length / 3.5);
});

test('every exported .onnx passes onnx.checker', { skip: onnxSkip }, () => {
  onnxCheck([join(dir, 'fp16', 'model_fp16.onnx'), join(dir, 'int8', 'model_int8.onnx')]);
});

test('serve --precision int8 answers with model_int8.onnx: predictions and /v1/model.onnx (the page’s file)', async () => {
  const jpeg = await testJpeg();
  const answers: Record<string, number> = {};
  for (const precision of ['fp32', 'int8'] as const) {
    const server = await startServer({
      ...SERVE_DEFAULTS,
      model: run,
      port: 0,
      threads: 1,
      precision,
      log: () => {},
    });
    try {
      const meta = (await (await fetch(`${server.url}/v1/model`)).json()) as {
        onnx: { precision: string; sha256: string; bytes: number };
      };
      const file = readFileSync(join(run, precision === 'fp32' ? RUN_FILES.model : RUN_FILES.modelInt8));
      assert.equal(meta.onnx.precision, precision);
      assert.equal(meta.onnx.sha256, createHash('sha256').update(file).digest('hex'));
      const served = Buffer.from(await (await fetch(`${server.url}/v1/model.onnx`)).arrayBuffer());
      assert.ok(served.equals(file), `/v1/model.onnx is the ${precision} file`);
      const res = await fetch(`${server.url}/v1/predict`, {
        method: 'POST',
        body: jpeg,
        headers: { 'content-type': 'image/jpeg' },
      });
      answers[precision] = ((await res.json()) as { probability: number }).probability;
    } finally {
      await server.close();
    }
  }
  const int8 = await SavedModel.load(run, { threads: 1, precision: 'int8' });
  const expected = probabilities(await int8.logits(x), 2, false)[1];
  await int8.release();
  assert.ok(
    Math.abs(answers.int8 - expected) < 1e-6,
    `int8 server ${answers.int8} vs the int8 file ${expected}`,
  );
  assert.notEqual(answers.int8, answers.fp32, 'and not the float32 model');
});

test('one-line errors: a precision not exported, an --out in use, a format the run cannot take', async () => {
  const bare = await makeRunFolder(join(dir, 'bare-run'));
  await assert.rejects(
    startServer({ ...SERVE_DEFAULTS, model: bare, port: 0, precision: 'fp16', log: () => {} }),
    /has no model_fp16\.onnx for --precision fp16; make it with 'smoker-lora export --model .* --format onnx-fp16/,
  );
  oneLineError(
    await runCli(['export', '--model', run, '--format', 'onnx-fp16', '--out', join(dir, 'fp16')]),
    /--out .*fp16: is not empty; choose a new or empty folder/,
  );
  oneLineError(
    await runCli(['export', '--model', bare, '--format', 'onnx-int8', '--out', join(dir, 'int8-bare')]),
    /cannot export .*bare-run as onnx-int8: int8 calibration reads the run's training images, but .*synthetic: data folder not found; pass --data/,
  );
  oneLineError(
    await runCli(['export', '--model', run, '--format', 'tflite', '--out', join(dir, 'x')]),
    /option '--format <format>' argument 'tflite' is invalid/,
  );
});
