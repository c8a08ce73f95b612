import { appendBackward } from '../autodiff/backward.js';
import { attr, type Graph, type Node } from '../graph/ir.js';
import { probeShapes } from '../runtime/probe-shapes.js';

/** The Grad-CAM graph's second input: one one-hot row per sample, the class whose logit is explained. */
export const CAM_TARGET = 'gradcam.target';

/** Ops between the global average pool and the `features` value that leave the pooled vector as is. */
const PASS_THROUGH = new Set(['Flatten', 'Reshape', 'Squeeze', 'Identity']);

/**
 * The last conv block's activation: the 4-D input of the GlobalAveragePool that `features` is a
 * flattened view of. `where` names the model file in errors.
 */
export function findCamLayer(g: Graph, where = 'model'): string {
  const producers = g.producers();
  let node: Node | undefined = producers.get('features');
  if (!node) throw new Error(`${where}: no value named 'features'; Grad-CAM needs the merged run model`);
  while (node && PASS_THROUGH.has(node.op)) node = producers.get(node.inputs[0]);
  if (node?.op !== 'GlobalAveragePool')
    throw new Error(
      `${where}: 'features' does not come from a GlobalAveragePool (found ${node?.op ?? 'a graph input'}), so there is no spatial layer to explain; pass a layer`,
    );
  return node.inputs[0];
}

/**
 * Turns a merged run model (`input` -> `logits`, `features`) into the Grad-CAM graph in place: the input
 * is fixed to [N,3,h,w], the loss is each sample's explained class logit (picked by the one-hot rows of
 * the input CAM_TARGET [N, classes]) summed over the batch (samples are independent, so its gradient
 * holds each sample's own d logit/dA), and the outputs become `logits`, A
 * and dlogit/dA. Only the tail from A to the logits gets backward nodes: the forward graph upstream of A
 * is left as it is (a MaxPool in the tail gains an Indices output, so pass a graph of your own, e.g. a
 * fresh import or a clone). Returns the names of A and its gradient.
 */
export async function buildGradCamGraph(
  g: Graph,
  opts: { size: [number, number]; layer?: string; where?: string },
): Promise<{ activation: string; gradient: string }> {
  const where = opts.where ?? 'model';
  const image = g.inputs.find((v) => v.name === 'input');
  if (!image || image.shape.length !== 4 || g.inputs.length !== 1)
    throw new Error(`${where}: expected one image input 'input' [N,3,H,W]`);
  const [h, w] = opts.size;
  image.shape.slice(2).forEach((d, i) => {
    if (typeof d === 'number' && d !== opts.size[i])
      throw new Error(`${where}: the model's input is ${image.shape.slice(2).join('x')}, not ${h}x${w}`);
  });
  image.shape = ['N', 3, h, w];
  const logits = g.outputs.find((o) => o.name === 'logits');
  const numClasses = logits?.shape[1];
  if (!logits || typeof numClasses !== 'number')
    throw new Error(`${where}: no 'logits' output [N, classes]; Grad-CAM needs the merged run model`);
  const activation = opts.layer ?? findCamLayer(g, where);
  if (!g.nodes.some((n) => n.outputs.includes(activation)))
    throw new Error(`${where}: no node computes '${activation}'`);

  // Each sample's explained class as a one-hot row, fed with the batch (the positive class, or with
  // more than two classes the one the model says).
  g.inputs.push({ name: CAM_TARGET, dtype: 'float32', shape: ['N', numClasses] });
  const picked = g.op('Mul', ['logits', CAM_TARGET]);
  const loss = g.op('ReduceSum', [picked], { keepdims: attr.int(0) }, 'gradcam.loss');
  g.outputs = [{ name: 'logits', dtype: 'float32', shape: ['N', numClasses] }];
  const shapes = await probeShapes(g);
  const shape = shapes.get(activation);
  if (!shape || shape.length !== 4)
    throw new Error(`${where}: '${activation}' has shape [${shape}], not [N,C,h,w]`);
  const gradient = appendBackward(g, { loss, wrt: [activation], shapes }).get(activation)!;
  g.outputs.push({ name: activation, dtype: 'float32', shape }, { name: gradient, dtype: 'float32', shape });
  g.prune();
  return { activation, gradient };
}
