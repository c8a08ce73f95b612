import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeResized } from '../../src/data/image.js';
import { toCHW } from '../../src/data/to-chw.js';
import { fromOnnxBytes } from '../../src/graph/onnx-import.js';
import { f32 } from '../../src/graph/tensor.js';
import type { Preprocess } from '../../src/models/backbone.js';
import { Session } from '../../src/runtime/session.js';
import { sharedPath } from '../helpers/shared.js';

const dir = sharedPath('models/mobilenet_v2_1.0_224');

// README of the shared model: top-1 label and softmax probability.
const EXPECTED = [
  ['bird.bmp', 'chickadee', 0.981],
  ['cat.bmp', 'Egyptian cat', 0.778],
  ['grace_hopper.bmp', 'military uniform', 0.927],
  ['hot_dog.jpg', 'hotdog, hot dog, red hot', 0.876],
] as const;

// The model wants (x − 127.5)/127.5, i.e. mean 0.5 and std 0.5 on the [0,1] scale.
const MINUS_ONE_TO_ONE: Preprocess = { size: [224, 224], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

test(
  'MobileNetV2 classifies the four test images with the top-1 labels of its README',
  { skip: dir.skip },
  async () => {
    const labels = readFileSync(join(dir.path, 'imagenet_labels.txt'), 'utf8').split('\n');
    const model = join(dir.path, 'model.onnx');
    const session = await Session.create(fromOnnxBytes(readFileSync(model), model));
    const plane = 3 * 224 * 224;
    const x = f32([EXPECTED.length, 3, 224, 224]);
    for (const [k, [file]] of EXPECTED.entries()) {
      const { rgb } = await decodeResized(join(dir.path, 'testimg', file), [224, 224]);
      x.data.set(toCHW(rgb, [224, 224], MINUS_ONE_TO_ONE), k * plane);
    }
    const logits = (await session.run({ input: x }, ['logits'])).logits.data as Float32Array;
    await session.release();
    const classes = logits.length / EXPECTED.length;
    for (const [k, [file, label, prob]] of EXPECTED.entries()) {
      const row = logits.subarray(k * classes, (k + 1) * classes);
      const max = Math.max(...row);
      const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
      const top = row.indexOf(max);
      const p = 1 / sum;
      console.log(`${file}: ${labels[top]} ${p.toFixed(4)} (README ${prob})`);
      assert.equal(labels[top], label, file);
      // Measured: within 0.0004 of the README except grace_hopper (0.9230 vs 0.927). A PIL-algorithm
      // resize of the same pixels gives 0.9266, so the gap is sharp's bilinear vs PIL's, not the model.
      assert.ok(Math.abs(p - prob) <= 0.01, `${file}: p(${label}) = ${p.toFixed(4)}, README ${prob}`);
    }
  },
);
