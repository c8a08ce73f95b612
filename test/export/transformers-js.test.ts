import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { env, pipeline, RawImage } from '@huggingface/transformers';
import { probabilities } from '../../src/classify/classify.js';
import { decodeResized } from '../../src/data/image.js';
import { predictFiles } from '../../src/eval/predict-files.js';
import { exportRun } from '../../src/export/export-run.js';
import { SavedModel } from '../../src/run/saved-model.js';
import type { Precision } from '../../src/run/files.js';
import { sharedPath } from '../helpers/shared.js';
import { tempDir, writeTinyDataset } from '../helpers/tiny-dataset.js';
import { makeRunFolder } from '../serve/fixtures.js';
import { makeMobileNetRun, onnxCheck, pythonSkip } from './fixtures.js';

/*
 * The transformers.js export, loaded by transformers.js itself: no network (allowRemoteModels off), the
 * folder found through env.localModelPath, pipeline('image-classification') in each dtype, against our
 * own predictions on real photos.
 */

const dir = tempDir('smoker-export-tjs-', after);
const mobilenet = sharedPath('models/mobilenet_v2_1.0_224/model.onnx');
const smoking = sharedPath('data/smoking');
const OPTS = { calibration: 16, calibrationMethod: 'minmax' as const, maxBatch: 32, threads: 1 };

before(() => {
  env.allowRemoteModels = false;
  env.localModelPath = dir;
});

/** P(smoking) of each photo by our predict, in a precision of the run's model files. */
async function ours(run: string, photos: string[], precision: Precision) {
  const model = await SavedModel.load(run, { threads: 1, precision });
  const out: { label: string; probability: number }[] = [];
  try {
    for await (const p of predictFiles(model, photos, { batch: 8, threshold: 0.5, tta: model.info.tta }))
      out.push({ label: p.label!, probability: p.probability! });
  } finally {
    await model.release();
  }
  return out;
}

type Scores = { label: string; score: number }[];

test(
  'MobileNetV2: pipeline() in fp32 and fp16 gives our labels and P(smoking) within 1e-3 on real photos; q8 is our int8 model',
  { skip: mobilenet.skip || smoking.skip },
  async (t) => {
    const run = await makeMobileNetRun(join(dir, 'mnv2-run'), mobilenet.path, smoking.path);
    await exportRun(run, 'transformers.js', { ...OPTS, out: join(dir, 'mnv2') });
    // The same calibration (images, method) as the transformers.js folder's model_quantized.onnx.
    await exportRun(run, 'onnx-int8', { ...OPTS, out: join(dir, 'mnv2-int8') });
    await exportRun(run, 'onnx-fp16', { ...OPTS, out: join(dir, 'mnv2-fp16') });
    if (!pythonSkip(['onnx']))
      onnxCheck(
        ['model.onnx', 'model_fp16.onnx', 'model_quantized.onnx'].map((f) => join(dir, 'mnv2', 'onnx', f)),
      );

    const val = join(smoking.path, 'Validation', 'Validation');
    const photos = readdirSync(val)
      .sort()
      .filter((_, i) => i % 30 === 0)
      .map((f) => join(val, f));
    // transformers.js in Node resizes with sharp's affine bilinear, which does not antialias; ours (and
    // PIL's, which Python transformers uses) does. So the photos go in at the model's size, resized by our
    // decoder, where transformers.js's resize does nothing (see README). The files' own are checked below.
    const sized = await Promise.all(
      photos.map(async (p) => new RawImage((await decodeResized(p, [224, 224])).rgb, 224, 224, 3)),
    );
    for (const [dtype, precision] of [
      ['fp32', 'fp32'],
      ['fp16', 'fp16'],
    ] as const) {
      const expected = await ours(run, photos, precision);
      const clf = await pipeline('image-classification', 'mnv2', {
        dtype,
        session_options: { intraOpNumThreads: 1 },
      });
      try {
        assert.equal(clf.model.constructor.name, 'MobileNetV2ForImageClassification');
        let worstSized = 0;
        for (const [i, image] of sized.entries()) {
          const scores = (await clf(image, { top_k: 2 })) as Scores;
          const p = scores.find((s) => s.label === 'smoking')!.score;
          worstSized = Math.max(worstSized, Math.abs(p - expected[i].probability));
          assert.equal(scores[0].label, expected[i].label, `${dtype} ${photos[i]}`);
          assert.ok(
            Math.abs(p - expected[i].probability) < 1e-3,
            `${dtype} ${photos[i]}: ${p} vs ${expected[i].probability}`,
          );
        }
        t.diagnostic(
          `${dtype}: largest |P − ours| ${worstSized.toExponential(2)} on ${photos.length} photos`,
        );
        if (dtype === 'fp32') {
          // The JPEG files themselves, resized by transformers.js: measured up to 0.044 apart on 250x250 photos.
          let worst = 0;
          for (const [i, photo] of photos.entries()) {
            const scores = (await clf(photo, { top_k: 2 })) as Scores;
            const p = scores.find((s) => s.label === 'smoking')!.score;
            worst = Math.max(worst, Math.abs(p - expected[i].probability));
          }
          assert.ok(worst < 0.1, `files resized by transformers.js: ${worst}`);
          t.diagnostic(`fp32, the files resized by transformers.js: largest |P − ours| ${worst.toFixed(4)}`);
        }
      } finally {
        await clf.dispose();
      }
    }
    // q8 is our int8 model, the same file as model_int8.onnx but for names. Its processor normalises in
    // two steps (x/255, then (x − mean)/std), 1 ulp from our one-step normalisation at times, and int8
    // rounds such differences up into whole quantization steps (measured 0.019 in P). So it is checked on
    // the processor's own pixel_values, run through our int8 model.
    const int8 = await SavedModel.load(run, { threads: 1, precision: 'int8' });
    const clf = await pipeline('image-classification', 'mnv2', {
      dtype: 'q8',
      session_options: { intraOpNumThreads: 1 },
    });
    try {
      for (const image of sized) {
        const scores = (await clf(image, { top_k: 2 })) as Scores;
        const { pixel_values: px } = (await clf.processor(image)) as {
          pixel_values: { data: Float32Array; dims: number[] };
        };
        const logits = await int8.logits({ dtype: 'float32', shape: px.dims, data: px.data });
        const p = probabilities(logits, 2, false)[1];
        const got = scores.find((s) => s.label === 'smoking')!.score;
        assert.ok(Math.abs(got - p) < 1e-5, `q8 ${got} vs our int8 model ${p}`);
      }
    } finally {
      await clf.dispose();
      await int8.release();
    }
  },
);

test('a torchvision ResNet run loads as model_type resnet; a run with test-time flip keeps it in the graph', async () => {
  const data = join(dir, 'tiny-data');
  const dirs = await writeTinyDataset(data, { Training: 8, Validation: 4 });
  const photos = readdirSync(dirs.Validation).map((f) => join(dirs.Validation, f));
  for (const tta of [false, true]) {
    const run = await resnetRun(join(dir, `resnet-run-${tta}`), data, tta);
    await exportRun(run, 'transformers.js', { ...OPTS, out: join(dir, `resnet-${tta}`) });
    const expected = await ours(run, photos, 'fp32');
    const clf = await pipeline('image-classification', `resnet-${tta}`, {
      session_options: { intraOpNumThreads: 1 },
    });
    try {
      assert.equal(clf.model.constructor.name, 'ResNetForImageClassification');
      for (const [i, photo] of photos.entries()) {
        // 64x64 photos at a 64x64 model: no resize on either side.
        const scores = (await clf(photo, { top_k: 2 })) as Scores;
        const p = scores.find((s) => s.label === 'smoking')!.score;
        assert.ok(
          Math.abs(p - expected[i].probability) < 1e-5,
          `tta ${tta} ${photo}: ${p} vs ${expected[i].probability}`,
        );
      }
    } finally {
      await clf.dispose();
    }
  }
});

const resnetRun = (run: string, data: string, tta: boolean) => makeRunFolder(run, 7, { data, tta });
