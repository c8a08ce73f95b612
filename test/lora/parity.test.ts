import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toFloat32, type Tensor } from '../../src/graph/tensor.js';
import { defaultTargets } from '../../src/lora/default-targets.js';
import { addLora, loadParams } from '../../src/lora/lora-model.js';
import { buildResNet } from '../../src/models/resnet.js';
import { Session } from '../../src/runtime/session.js';
import { TrainStep } from '../../src/train/train-step.js';
import { loadSafetensors } from '../../src/weights/safetensors-file.js';
import { sharedPath } from '../helpers/shared.js';

const weights = sharedPath('fixtures/torch/resnet18_random.safetensors');
const reference = sharedPath('fixtures/torch/lora_reference.safetensors');

/** max |a - b| / max |b|: one scale per tensor, so tiny entries don't dominate. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

test(
  'one LoRA step on resnet18 matches PyTorch: logits, features, loss and every gradient within 1e-3',
  { skip: weights.skip || reference.skip },
  async () => {
    const ref = (await loadSafetensors(reference.path)).tensors;
    const get = (k: string): Tensor<'float32'> => toFloat32(ref.get(k)!);
    const backbone = buildResNet(18, (await loadSafetensors(weights.path)).tensors);
    const model = addLora(backbone, { r: 8, alpha: 16, targets: defaultTargets(backbone) });
    assert.equal(model.sites.length, 8);
    loadParams(model, ref, reference.path);

    const x = get('x');
    const labels = Array.from(ref.get('labels')!.data as BigInt64Array, Number);
    const step = await TrainStep.compile(model, { threads: 2, imageSize: [64, 64] });
    const { loss, logits } = await step.run(x, labels);
    const errors: Record<string, number> = {
      logits: relErr(logits, get('logits').data),
      loss: relErr([loss], get('loss').data),
    };
    for (const p of step.params) errors[`grad.${p.name}`] = relErr(p.grad, get(`grad.${p.name}`).data);

    const withFeatures = model.graph.clone();
    withFeatures.outputs.push({ name: 'features', dtype: 'float32', shape: ['N', 512] });
    const fwd = await Session.create(withFeatures);
    const feeds: Record<string, Tensor> = { input: x, ...Object.fromEntries(model.params) };
    errors.features = relErr((await fwd.run(feeds)).features.data as Float32Array, get('features').data);

    const worst = Object.entries(errors).sort((a, b) => b[1] - a[1]);
    for (const [name, err] of worst) assert.ok(err < 1e-3, `${name}: relative error ${err.toExponential(2)}`);
    console.log(
      `worst relative errors: ${worst
        .slice(0, 4)
        .map(([n, e]) => `${n} ${e.toExponential(2)}`)
        .join(', ')}`,
    );
  },
);
