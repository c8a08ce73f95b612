import { attr, type Graph, type Node } from '../graph/ir.js';
import { toOnnxBytes } from '../graph/onnx-export.js';
import { fromOnnxBytes } from '../graph/onnx-import.js';
import { allocData, numel } from '../graph/tensor.js';
import { Session } from '../runtime/session.js';
import { IMAGENET_PREPROCESS, type Backbone, type Preprocess } from './backbone.js';

export interface OnnxBackboneOptions {
  /** The value to use as features; default: an output named 'features', else the classifier's input. */
  featureOutput?: string;
  preprocess?: Preprocess;
  /** Run the CNN at this input [height, width] instead of the file's (it must be fully convolutional). */
  imageSize?: [number, number];
}

/**
 * Normalisation by the file's name or its folder's (the shared MobileNetV2 is
 * `mobilenet_v2_1.0_224/model.onnx`), for models whose file does not say. TF-slim models such as MobileNetV2
 * were trained on [-1,1] pixels, i.e. mean 0.5 and std 0.5; anything else gets torchvision's ImageNet
 * mean/std.
 */
const KNOWN_NORMALISATION: { pattern: RegExp; mean: Preprocess['mean']; std: Preprocess['std'] }[] = [
  { pattern: /mobilenet_v2/i, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
];

/** Ops between a classifier and the graph output that leave its input untouched as "the features". */
const PASS_THROUGH = new Set([
  'Identity',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Softmax',
  'LogSoftmax',
  'Add',
  'Relu',
  'GlobalAveragePool',
]);

/** Ops after which a 1x1 Conv's outputs are class scores rather than a feature map (SqueezeNet's head). */
const TO_SCORES = new Set(['Flatten', 'Reshape', 'Squeeze', 'GlobalAveragePool']);

/**
 * Any ONNX CNN as a frozen backbone: its NCHW float image input becomes 'input', the feature value
 * becomes 'features' [N,F] (4-D values are global-average-pooled and flattened), and everything not
 * needed for it is pruned. Preprocessing: `opts.preprocess`, else the mean/std of the file-name table
 * above (ImageNet's otherwise) at the model's fixed input size (224x224 if the size is symbolic).
 * `path` is the file's name: the backbone's name, the normalisation key and the prefix of errors.
 */
export async function onnxBackbone(
  bytes: Uint8Array,
  path: string,
  opts: OnnxBackboneOptions = {},
): Promise<Backbone> {
  const g = fromOnnxBytes(bytes, path);
  const images = g.inputs.filter((v) => v.shape.length === 4 && v.shape[1] === 3 && v.dtype === 'float32');
  if (images.length !== 1) {
    const found = g.inputs.map((v) => `${v.name} ${v.dtype} [${v.shape}]`).join(', ') || 'none';
    throw new Error(`${path}: needs exactly one float32 NCHW image input [N,3,H,W]; inputs: ${found}`);
  }
  const image = images[0];
  const feature = opts.featureOutput ?? findFeature(g, path);
  if (!g.nodes.some((n) => n.outputs.includes(feature))) {
    throw new Error(`${path}: no node computes '${feature}', so it cannot be the feature output`);
  }

  if (image.name !== 'input') {
    if (g.nodes.some((n) => n.outputs.includes('input')) || g.initializers.has('input')) {
      throw new Error(
        `${path}: the value name 'input' is taken inside the graph; cannot rename the image input`,
      );
    }
    g.replaceUses(image.name, 'input');
    image.name = 'input';
  }
  // A symbolic batch lets one backbone serve every batch size; the probe below checks the graph allows it.
  image.shape[0] = 'N';
  g.inputs = [image];
  g.outputs = [{ name: feature, dtype: 'float32', shape: [] }];
  g.prune();
  const stray = g.nodes.flatMap((n) => n.inputs).find((i) => i && !isAvailable(g, i));
  if (stray) throw new Error(`${path}: the features need '${stray}', which is not the image input`);

  const [h, w] = opts.imageSize ?? image.shape.slice(2).map((d) => (typeof d === 'number' ? d : 224));
  image.shape = ['N', 3, h, w];
  const shape = await probeShape(g, feature, [2, 3, h, w], path);
  let out = feature;
  if (feature === 'features' && shape.length !== 2) out = renameValue(g, 'features', g.fresh('features.raw'));
  else if (feature !== 'features' && g.producers().has('features'))
    renameValue(g, 'features', g.fresh('features.inner'));
  if (shape.length === 4) {
    const spatial = shape[2] * shape[3] === 1 ? out : g.op('GlobalAveragePool', [out], {}, 'features.pool');
    g.add('Flatten', [spatial], {
      name: 'features.flatten',
      outputs: ['features'],
      attrs: { axis: attr.int(1) },
    });
  } else if (shape.length !== 2) {
    throw new Error(`${path}: feature value '${feature}' has shape [${shape}]; expected [N,F] or [N,C,H,W]`);
  } else if (out !== 'features') {
    g.add('Identity', [out], { name: 'features.identity', outputs: ['features'] });
  }
  const featureDim = shape[1];
  g.outputs = [{ name: 'features', dtype: 'float32', shape: ['N', featureDim] }];

  const named = path.split(/[\\/]/).slice(-2).join('/');
  const known = KNOWN_NORMALISATION.find((k) => k.pattern.test(named));
  const preprocess = opts.preprocess ?? {
    size: [h, w],
    mean: known?.mean ?? IMAGENET_PREPROCESS.mean,
    std: known?.std ?? IMAGENET_PREPROCESS.std,
  };
  let parameterCount = 0;
  for (const t of g.initializers.values())
    if (t.dtype.startsWith('float') || t.dtype === 'bfloat16') parameterCount += numel(t.shape);
  // BatchNorm in an ONNX file is either already folded (nothing to rescale) or a node LoRA passes through.
  return { name: path, graph: g, featureDim, parameterCount, bnScales: new Map(), preprocess };
}

/** The feature value: an output named 'features', else the data input of the final classifier. */
function findFeature(g: Graph, path: string): string {
  if (g.outputs.some((o) => o.name === 'features')) return 'features';
  const producers = g.producers();
  for (const output of g.outputs) {
    let node: Node | undefined = producers.get(output.name);
    let scores = false;
    while (node) {
      if (isClassifier(g, node, scores)) return node.inputs[0];
      if (!PASS_THROUGH.has(node.op)) break;
      scores ||= TO_SCORES.has(node.op);
      node = producers.get(node.inputs[0]);
    }
  }
  throw new Error(
    `${path}: cannot identify the feature output (no output named 'features', and no Gemm, MatMul or pooled 1x1 Conv classifier before an output); pass featureOutput`,
  );
}

/** A Gemm or MatMul by a matrix, or a 1x1 Conv whose outputs are pooled or flattened into scores. */
function isClassifier(g: Graph, n: Node, scores: boolean): boolean {
  const weight = g.initializers.get(n.inputs[1] ?? '');
  if (!weight) return false;
  if (n.op === 'Gemm' || n.op === 'MatMul') return weight.shape.length === 2;
  return (
    scores && n.op === 'Conv' && weight.shape.length === 4 && weight.shape[2] === 1 && weight.shape[3] === 1
  );
}

function isAvailable(g: Graph, value: string): boolean {
  return value === 'input' || g.initializers.has(value) || g.nodes.some((n) => n.outputs.includes(value));
}

/** Renames a value everywhere: its producer's output and every use. Returns the new name. */
function renameValue(g: Graph, from: string, to: string): string {
  for (const n of g.nodes) n.outputs = n.outputs.map((o) => (o === from ? to : o));
  g.replaceUses(from, to);
  return to;
}

/** Runs the pruned graph once on zeros to learn the feature value's shape (and that the batch can vary). */
async function probeShape(g: Graph, value: string, inputShape: number[], path: string): Promise<number[]> {
  const outputs = g.outputs;
  g.outputs = [];
  const bytes = toOnnxBytes(g, { untypedOutputs: [value] });
  g.outputs = outputs;
  let session: Session | undefined;
  try {
    session = await Session.create(bytes, { threads: 1 });
    const x = { dtype: 'float32' as const, shape: inputShape, data: allocData('float32', numel(inputShape)) };
    return [...(await session.run({ input: x }, [value]))[value].shape];
  } catch (e) {
    const msg = (e as Error).message.replace(/\s+/g, ' ');
    throw new Error(`${path}: the feature graph does not run on a [${inputShape}] batch (${msg})`);
  } finally {
    await session?.release();
  }
}
