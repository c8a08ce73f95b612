import { numel } from '../graph/tensor.js';
import type { LoraModel } from '../lora/lora-model.js';
import { probeShapes } from '../runtime/probe-shapes.js';

export interface MemoryEstimate {
  /** All parts together, bytes. */
  bytes: number;
  parts: { weights: number; trainables: number; activations: number; images: number };
}

/**
 * What a training run holds at most, roughly, so that a run which cannot fit is refused before it
 * allocates or writes anything. Activations: every forward value of one image (probed from ORT at
 * batch 1 and 2, which is cheap) times the batch, all of which the backward pass may keep; frozen
 * weights live in this process and in two ORT sessions; each trainable has its value, gradient, two
 * AdamW moments and copies in feeds and checkpoints; the decoded images are cached as RGB bytes.
 */
export async function estimateTrainingMemory(
  model: LoraModel,
  o: { batch: number; imageSize: [number, number]; images: number },
): Promise<MemoryEstimate> {
  const g = model.graph.clone();
  const [h, w] = o.imageSize;
  g.inputs = g.inputs.map((i) => (i.name === 'input' ? { ...i, shape: ['N', 3, h, w] } : i));
  const computed = new Set(g.nodes.flatMap((n) => n.outputs));
  let perImage = 0;
  for (const [name, dims] of await probeShapes(g))
    if (computed.has(name) && dims.includes('N'))
      perImage += 4 * numel(dims.map((d) => (typeof d === 'number' ? d : 1)));
  let weights = 0;
  for (const t of g.initializers.values()) weights += 3 * t.data.byteLength;
  let trainables = 0;
  for (const t of model.params.values()) trainables += 6 * t.data.byteLength;
  const parts = {
    weights,
    trainables,
    activations: o.batch * perImage,
    images: o.images * h * w * 3,
  };
  return { bytes: parts.weights + parts.trainables + parts.activations + parts.images, parts };
}
