import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { addLora } from '../../src/lora/lora-model.js';
import { loadOnnxBackbone } from '../../src/models/load-onnx-backbone.js';
import { Rng } from '../../src/random/rng.js';
import { TrainStep } from '../../src/train/train-step.js';
import { f32 } from '../../src/graph/tensor.js';
import { pythonSkip, runPython } from '../export/fixtures.js';
import { lateConvTargets } from '../helpers/late-convs.js';
import { seedLoraB } from '../helpers/lora-b.js';

// What each architecture brings that the others do not, between its adapted convs and the loss, at the
// opset it is exported at (below 14 torch writes HardSwish as HardSigmoid and Mul).
const ARCHITECTURES: [string, number, string][] = [
  ['efficientnet_b0', 13, 'SiLU and squeeze-excite gates (Sigmoid)'],
  ['mobilenet_v3_small', 13, 'HardSigmoid'],
  ['mobilenet_v3_small', 17, 'HardSwish'],
  ['shufflenet_v2_x0_5', 13, 'a channel split whose Slice torch 1.13 computes the axis of'],
  ['densenet121', 13, 'unfolded (pre-activation) BatchNorm and a computed Pad'],
  ['convnext_tiny', 13, 'LayerNorm written out (ReduceMean, Pow, Sqrt, Div) and GELU (Erf)'],
  ['convnext_tiny', 17, 'LayerNormalization'],
];

const skip = pythonSkip(['torch', 'torchvision']);
const dir = mkdtempSync(join(tmpdir(), 'smoker-torchvision-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const opsets = [...new Set(ARCHITECTURES.map(([, opset]) => opset))];
if (!skip)
  for (const opset of opsets) {
    mkdirSync(join(dir, `opset${opset}`));
    const names = ARCHITECTURES.filter(([, o]) => o === opset).map(([name]) => name);
    runPython('export_torchvision.py', [join(dir, `opset${opset}`), String(opset), ...names]);
  }

for (const [name, opset, brings] of ARCHITECTURES) {
  test(
    `${name} exported by torch at opset ${opset} trains, its LoRA gradients matching finite differences (${brings})`,
    { skip },
    async () => {
      const backbone = await loadOnnxBackbone(join(dir, `opset${opset}`, `${name}.onnx`), {
        imageSize: [96, 96],
      });
      const model = addLora(
        backbone,
        { r: 4, alpha: 8, targets: lateConvTargets(backbone) },
        { numClasses: 2, seed: 1 },
      );
      const rng = new Rng(2);
      seedLoraB(model, rng, 0.05);
      const step = await TrainStep.compile(model, { threads: 2 });
      const input = f32([2, 3, 96, 96], rng.uniformArray(2 * 3 * 96 * 96, -2, 2));
      const labels = Int32Array.from([0, 1]);
      const { loss } = await step.run(input, labels);
      assert.ok(Number.isFinite(loss), `loss ${loss}`);
      for (const kind of ['lora_A', 'lora_B']) {
        // The two largest gradients of this kind, against central differences of the step's own loss.
        const entries = step.params
          .filter((p) => p.name.includes(kind))
          .flatMap((p) => Array.from(p.grad, (g, i) => ({ p, i, g: Number(g) })))
          .sort((a, b) => Math.abs(b.g) - Math.abs(a.g))
          .slice(0, 2);
        assert.ok(entries.length === 2 && Math.abs(entries[1].g) > 1e-4, `${kind} gets a gradient`);
        for (const { p, i, g } of entries) {
          const eps = 1e-3;
          const at = async (delta: number) => {
            const saved = p.value[i];
            p.value[i] = saved + delta;
            const l = (await step.run(input, labels)).loss;
            p.value[i] = saved;
            return l;
          };
          const numeric = ((await at(eps)) - (await at(-eps))) / (2 * eps);
          assert.ok(
            Math.abs(numeric - g) <= 0.02 * Math.abs(g),
            `${p.name}[${i}]: analytic ${g}, numeric ${numeric}`,
          );
        }
      }
      await step.release();
    },
  );
}
