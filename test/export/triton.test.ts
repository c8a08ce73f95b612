import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';
import { exportRun } from '../../src/export/export-run.js';
import { f32 } from '../../src/graph/tensor.js';
import type { Preprocess } from '../../src/models/backbone.js';
import { Session } from '../../src/runtime/session.js';
import { SERVE_DEFAULTS } from '../../src/serve/options.js';
import { startServer, type RunningServer } from '../../src/serve/server.js';
import { tempDir } from '../helpers/tiny-dataset.js';
import { CLASSES, makeRunFolder, testJpeg } from '../serve/fixtures.js';
import { onnxCheck, pythonSkip, runPython } from './fixtures.js';

/*
 * The Triton / KServe repository: config.pbtxt parsed by protobuf's own text-format parser against
 * Triton's ModelConfig schema, its dims against what our server's v2 endpoint reports for the same run,
 * and the repository's model.onnx against the v2 endpoint's answers.
 */

const dir = tempDir('smoker-export-triton-', after);
const OPTS = { calibration: 8, calibrationMethod: 'minmax' as const, maxBatch: 16, threads: 1 };

interface TritonTensor {
  name: string;
  data_type: string;
  dims: string[];
  label_filename?: string;
}
interface TritonConfig {
  name: string;
  platform: string;
  max_batch_size: number;
  input: TritonTensor[];
  output: TritonTensor[];
  dynamic_batching: { max_queue_delay_microseconds: string };
}
interface V2Metadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

const runs: Record<string, string> = {};
const servers: Record<string, RunningServer> = {};
let images: Float32Array[];

before(async () => {
  const jpegs = [await testJpeg(), await testJpeg(200, 300, 9)];
  const p: Preprocess = { size: [64, 64], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  images = await Promise.all(jpegs.map(async (j) => toCHW((await decodeResized(j, p.size)).rgb, p.size, p)));
  for (const tta of [false, true]) {
    const name = tta ? 'flip-run' : 'plain-run';
    runs[name] = await makeRunFolder(join(dir, name), 7, { tta });
    servers[name] = await startServer({
      ...SERVE_DEFAULTS,
      model: runs[name],
      port: 0,
      threads: 1,
      log: () => {},
    });
  }
});
after(() => Promise.all(Object.values(servers).map((s) => s.close())));

for (const name of ['plain-run', 'flip-run']) {
  test(`${name}: the repository's config, labels and model agree with our server's v2 metadata and answers`, async () => {
    const repo = join(dir, `repo-${name}`);
    const files = await exportRun(runs[name], 'triton', { ...OPTS, out: repo });
    assert.deepEqual(files.sort(), [
      'README.md',
      `${name}/1/model.onnx`,
      `${name}/config.pbtxt`,
      `${name}/labels.txt`,
    ]);
    assert.deepEqual(
      readdirSync(repo).sort(),
      ['README.md', name],
      'one model folder, named as serve names the run',
    );
    assert.equal(readFileSync(join(repo, name, 'labels.txt'), 'utf8'), CLASSES.join('\n') + '\n');

    const server = servers[name];
    const meta = (await (await fetch(`${server.url}/v2/models/${name}`)).json()) as V2Metadata;
    const config = readFileSync(join(repo, name, 'config.pbtxt'), 'utf8');
    const skip = pythonSkip(['google.protobuf']);
    if (skip) {
      // Without protobuf, the fields that must agree, read off the text.
      assert.match(
        config,
        new RegExp(`name: "${name}"\\nplatform: "onnxruntime_onnx"\\nmax_batch_size: 16\\n`),
      );
      assert.match(config, /dims: \[ 3, 64, 64 \]/);
    } else {
      const c = JSON.parse(runPython('triton_config.py', [join(repo, name, 'config.pbtxt')])) as TritonConfig;
      assert.equal(c.name, meta.name);
      assert.equal(c.platform, meta.platform);
      assert.equal(c.max_batch_size, 16);
      assert.equal(c.dynamic_batching.max_queue_delay_microseconds, '5000');
      const batched = (t: TritonTensor) => ({
        name: t.name,
        datatype: t.data_type.replace('TYPE_', ''),
        shape: [-1, ...t.dims.map(Number)],
      });
      assert.deepEqual(c.input.map(batched), meta.inputs);
      assert.deepEqual(c.output.map(batched), meta.outputs);
      assert.deepEqual(
        c.output.map((o) => o.label_filename),
        ['labels.txt', 'labels.txt'],
      );
    }
    assert.deepEqual(
      readdirSync(join(repo, name)).filter((f) => /^\d+$/.test(f)),
      meta.versions,
    );

    // The repository's model, as Triton's ONNX Runtime backend would run it, against our v2 endpoint.
    const body = {
      id: 'triton-check',
      inputs: [
        {
          name: 'input',
          shape: [2, 3, 64, 64],
          datatype: 'FP32',
          data: images.flatMap((x) => Array.from(x)),
        },
      ],
    };
    const res = await fetch(`${server.url}/v2/models/${name}/infer`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    const answer = (await res.json()) as { outputs: { name: string; data: number[] }[] };
    const s = await Session.create(readFileSync(join(repo, name, '1', 'model.onnx')), { threads: 1 });
    const x = f32([2, 3, 64, 64], [...images[0], ...images[1]]);
    const out = await s.run({ input: x });
    await s.release();
    assert.deepEqual(Object.keys(out).sort(), ['logits', 'probabilities']);
    for (const o of answer.outputs) {
      const ours = out[o.name].data as Float32Array;
      assert.equal(ours.length, o.data.length);
      for (let i = 0; i < ours.length; i++)
        assert.ok(
          Math.abs(ours[i] - o.data[i]) < 1e-5,
          `${o.name}[${i}]: ${ours[i]} vs the server's ${o.data[i]}`,
        );
    }
    if (!pythonSkip(['onnx'])) onnxCheck([join(repo, name, '1', 'model.onnx')]);
  });
}

test('triton refuses a --name Triton cannot use as a folder, in one line', async () => {
  await assert.rejects(
    exportRun(runs['plain-run'], 'triton', { ...OPTS, out: join(dir, 'bad-name'), name: 'a/b' }),
    /cannot export .* as triton: --name a\/b: must be letters, digits, _, \. or -/,
  );
});
