import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { exportRun } from '../../src/export/export-run.js';
import { SavedModel } from '../../src/run/saved-model.js';
import { loadSafetensors, saveSafetensors } from '../../src/weights/safetensors-file.js';
import { runCli } from '../cli/cli-fixture.js';
import { sharedPath } from '../helpers/shared.js';
import { tempDir, writeTinyDataset } from '../helpers/tiny-dataset.js';
import { loadImages } from '../quantize/fixtures.js';
import { makeRunFolder } from '../serve/fixtures.js';
import { pythonSkip, runPython } from './fixtures.js';

/*
 * The PEFT export proven in PyTorch: a real run of ours on torchvision resnet18 (the shared fixture's
 * weights), exported, then loaded by test/python/peft_roundtrip.py onto torchvision's own resnet18 from
 * the adapter files alone; its logits must match our merged model.onnx's on the same images.
 */

const dir = tempDir('smoker-export-peft-', after);
const weights = sharedPath('fixtures/torch/resnet18_random.safetensors');
const torchSkip = pythonSkip(['torch', 'torchvision', 'numpy']);
const OPTS = { calibration: 8, calibrationMethod: 'minmax' as const, maxBatch: 32, threads: 1 };

const VARIANTS = [
  { rslora: false, dora: false, label: '' },
  { rslora: true, dora: false, label: ' with rsLoRA' },
  { rslora: false, dora: true, label: ' with DoRA' },
  { rslora: false, dora: false, rankPattern: String.raw`layer4\.\d\.conv2`, label: ' with a rank_pattern' },
];

for (const { rslora, dora, rankPattern, label } of VARIANTS) {
  test(
    `resnet18${label}: PyTorch with PEFT-shaped LoRA modules matches our merged model within 1e-4`,
    { skip: weights.skip },
    async (t) => {
      const tag = `${rslora}-${dora}-${Boolean(rankPattern)}`;
      const data = join(dir, `data-${tag}`);
      const dirs = await writeTinyDataset(data, { Training: 16, Validation: 4 });
      const run = join(dir, `run-${tag}`);
      // A high learning rate, so that after 4 steps the adapters change the logits well beyond the tolerance.
      const r = await runCli([
        'train',
        ...['--data', data, '--backbone', 'resnet18', '--weights', weights.path, '--out', run],
        ...[
          '--epochs',
          '2',
          '--batch',
          '8',
          '--lr',
          '0.02',
          '--rank',
          '4',
          '--alpha',
          '8',
          '--image-size',
          '64',
        ],
        ...['--threads', '2', '--seed', '3', ...(rslora ? ['--rslora'] : []), ...(dora ? ['--dora'] : [])],
        ...(rankPattern ? ['--rank-pattern', `${rankPattern}=2`] : []),
      ]);
      assert.equal(r.code, 0, r.stderr);
      const out = join(dir, `peft-${tag}`);
      assert.deepEqual(await exportRun(run, 'peft', { ...OPTS, out }), [
        'adapter_model.safetensors',
        'adapter_config.json',
        'README.md',
      ]);
      const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(config.task_type, null);
      assert.equal(config.use_rslora, rslora);
      assert.equal(config.use_dora, dora);
      assert.deepEqual(config.rank_pattern, rankPattern ? { [rankPattern]: 2 } : {});
      assert.deepEqual(config.modules_to_save, ['fc']);
      assert.equal((config.target_modules as string[]).length, 8, 'layer3 and layer4 convs by module name');
      const keys = [...(await loadSafetensors(join(out, 'adapter_model.safetensors'))).tensors.keys()];
      assert.ok(
        keys.every((k) =>
          /^base_model\.model\.((layer[34]\.\d\.conv[12]\.lora_[AB]|fc)\.(weight|bias)|layer[34]\.\d\.conv[12]\.lora_magnitude_vector)$/.test(
            k,
          ),
        ),
        keys.join(),
      );
      assert.equal(keys.filter((k) => k.endsWith('.lora_magnitude_vector')).length, dora ? 8 : 0);

      const photos = readdirSync(dirs.Validation).map((f) => join(dirs.Validation, f));
      const model = await SavedModel.load(run, { threads: 1 });
      const x = await loadImages(photos, model.preprocess);
      const logits = await model.logits(x);
      await model.release();
      const io = join(dir, `io-${tag}.safetensors`);
      await saveSafetensors(io, { x, logits: { dtype: 'float32', shape: [photos.length, 2], data: logits } });
      if (torchSkip) return t.skip(torchSkip);
      const res = JSON.parse(runPython('peft_roundtrip.py', [weights.path, out, io])) as Record<
        string,
        number
      >;
      assert.equal(res.scaling, rslora ? 4 : 2);
      // PEFT's rule gives the matched convs r 2, so alpha/2 = 4, and the check would fail with alpha/4.
      assert.equal(res.patterned, rankPattern ? 2 : 0);
      assert.ok(res.error < 1e-4, `PyTorch vs ours: ${res.error}`);
      // The check has teeth: without the adapters, or with the other scaling rule, it fails by far.
      assert.ok(res.without_adapters > 100 * 1e-4, `without adapters ${res.without_adapters}`);
      assert.ok(res.other_scaling > 10 * 1e-4, `other scaling ${res.other_scaling}`);
      if (dora) assert.ok(res.as_lora > 10 * 1e-4, `DoRA read as plain LoRA ${res.as_lora}`);
      if (rankPattern)
        assert.ok(res.global_rank_scaling > 10 * 1e-4, `one scaling for all ${res.global_rank_scaling}`);
      console.log(`peft roundtrip (rslora ${rslora}, dora ${dora}): ${JSON.stringify(res)}`);
    },
  );
}

test('peft refuses a run on an ONNX-file backbone, in one line', async () => {
  const run = await makeRunFolder(join(dir, 'onnx-run'), 7, {
    backbone: '/models/mobilenet_v2_1.0_224/model.onnx',
  });
  await assert.rejects(
    exportRun(run, 'peft', { ...OPTS, out: join(dir, 'peft-onnx') }),
    /cannot export .*onnx-run as peft: PEFT adapters apply to torchvision modules by name; the backbone 'model\.onnx' is an ONNX file/,
  );
  assert.equal(existsSync(join(dir, 'peft-onnx')), false, 'and leaves no folder behind');
});
