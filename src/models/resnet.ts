import { attr, Graph } from '../graph/ir.js';
import { f32, tensor } from '../graph/tensor.js';
import { Rng } from '../random/rng.js';
import { IMAGENET_PREPROCESS, type Backbone, type Preprocess } from './backbone.js';
import { foldBatchNorm } from './fold-batchnorm.js';
import { expectTensor, type StateDict } from './state-dict.js';

export type ResNetDepth = 18 | 34 | 50;

/** One conv and the BatchNorm after it, named by torchvision module paths. */
interface ConvSpec {
  name: string;
  bn: string;
  inC: number;
  outC: number;
  k: number;
  stride: number;
}

interface BlockSpec {
  path: string;
  /** Applied in sequence with a ReLU between each pair; the residual is added after the last. */
  convs: ConvSpec[];
  downsample?: ConvSpec;
}

interface ResNetLayout {
  stem: ConvSpec;
  blocks: BlockSpec[];
  featureDim: number;
}

const ARCH: Record<ResNetDepth, { bottleneck: boolean; layers: number[] }> = {
  18: { bottleneck: false, layers: [2, 2, 2, 2] },
  34: { bottleneck: false, layers: [3, 4, 6, 3] },
  50: { bottleneck: true, layers: [3, 4, 6, 3] },
};

const conv = (name: string, bn: string, inC: number, outC: number, k: number, stride: number): ConvSpec => ({
  name,
  bn,
  inC,
  outC,
  k,
  stride,
});

/** torchvision's ResNet module tree (v1.5: a Bottleneck strides in its 3x3 conv2). */
function resnetLayout(depth: ResNetDepth): ResNetLayout {
  const arch = ARCH[depth];
  if (!arch) throw new Error(`resnet: unsupported depth ${depth} (18, 34 or 50)`);
  const expansion = arch.bottleneck ? 4 : 1;
  const blocks: BlockSpec[] = [];
  let inC = 64;
  arch.layers.forEach((count, li) => {
    const planes = 64 * 2 ** li;
    for (let b = 0; b < count; b++) {
      const path = `layer${li + 1}.${b}`;
      const stride = b === 0 && li > 0 ? 2 : 1;
      const outC = planes * expansion;
      const c = (i: number, from: number, to: number, k: number, s: number) =>
        conv(`${path}.conv${i}`, `${path}.bn${i}`, from, to, k, s);
      const convs = arch.bottleneck
        ? [c(1, inC, planes, 1, 1), c(2, planes, planes, 3, stride), c(3, planes, outC, 1, 1)]
        : [c(1, inC, planes, 3, stride), c(2, planes, planes, 3, 1)];
      const downsample =
        stride !== 1 || inC !== outC
          ? conv(`${path}.downsample.0`, `${path}.downsample.1`, inC, outC, 1, stride)
          : undefined;
      blocks.push(downsample ? { path, convs, downsample } : { path, convs });
      inC = outC;
    }
  });
  return { stem: conv('conv1', 'bn1', 3, 64, 7, 2), blocks, featureDim: inC };
}

export interface ResNetOptions {
  /** Overrides the ImageNet 224x224 preprocessing, e.g. to train at another resolution. */
  preprocess?: Preprocess;
}

/**
 * torchvision's ResNet-18/34/50 as a feature extractor, from its state dict (any float dtype), with every
 * BatchNorm folded into its conv. Conv nodes carry module paths (`layer3.0.conv1`, `layer3.0.downsample.0`)
 * so LoRA can target them; `fc.*` is ignored because the project brings its own head.
 */
export function buildResNet(depth: ResNetDepth, sd: StateDict, opts: ResNetOptions = {}): Backbone {
  const name = `resnet${depth}`;
  const layout = resnetLayout(depth);
  const g = new Graph();
  g.inputs.push({ name: 'input', dtype: 'float32', shape: ['N', 3, 'H', 'W'] });
  let parameterCount = 0;
  const bnScales = new Map<string, Float32Array>();

  const convBn = (x: string, c: ConvSpec): string => {
    const bnShape = [c.outC];
    const { weight, bias, scale } = foldBatchNorm(
      expectTensor(sd, `${c.name}.weight`, [c.outC, c.inC, c.k, c.k], name),
      {
        weight: expectTensor(sd, `${c.bn}.weight`, bnShape, name),
        bias: expectTensor(sd, `${c.bn}.bias`, bnShape, name),
        runningMean: expectTensor(sd, `${c.bn}.running_mean`, bnShape, name),
        runningVar: expectTensor(sd, `${c.bn}.running_var`, bnShape, name),
      },
    );
    parameterCount += weight.data.length + 2 * c.outC; // the conv plus BatchNorm γ and β
    bnScales.set(c.name, scale);
    g.initializers.set(`${c.name}.weight`, weight);
    g.initializers.set(`${c.name}.bias`, bias);
    const pad = (c.k - 1) / 2;
    return g.op(
      'Conv',
      [x, `${c.name}.weight`, `${c.name}.bias`],
      {
        kernel_shape: attr.ints([c.k, c.k]),
        strides: attr.ints([c.stride, c.stride]),
        pads: attr.ints([pad, pad, pad, pad]),
      },
      c.name,
    );
  };

  let x = g.op('Relu', [convBn('input', layout.stem)], {}, 'relu');
  x = g.op(
    'MaxPool',
    [x],
    { kernel_shape: attr.ints([3, 3]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]) },
    'maxpool',
  );
  for (const block of layout.blocks) {
    let y = x;
    block.convs.forEach((c, i) => {
      y = convBn(y, c);
      // torch.fx-style names for the block's one ReLU module used several times.
      if (i < block.convs.length - 1)
        y = g.op('Relu', [y], {}, i === 0 ? `${block.path}.relu` : `${block.path}.relu_${i}`);
    });
    const identity = block.downsample ? convBn(x, block.downsample) : x;
    const sum = g.op('Add', [y, identity], {}, `${block.path}.add`);
    x = g.op('Relu', [sum], {}, `${block.path}.relu_${block.convs.length - 1}`);
  }
  const pooled = g.op('GlobalAveragePool', [x], {}, 'avgpool');
  g.add('Flatten', [pooled], { name: 'flatten', outputs: ['features'], attrs: { axis: attr.int(1) } });
  g.outputs.push({ name: 'features', dtype: 'float32', shape: ['N', layout.featureDim] });
  return {
    name,
    graph: g,
    featureDim: layout.featureDim,
    parameterCount,
    bnScales,
    preprocess: opts.preprocess ?? IMAGENET_PREPROCESS,
  };
}

/**
 * A torchvision-like randomly initialised state dict (convs kaiming-normal fan_out for ReLU, BatchNorm
 * weight 1, bias 0, running stats 0/1, fc as nn.Linear's default): for benchmarks and tests where no
 * ImageNet weights exist. Deterministic in `seed`.
 */
export function randomResNetStateDict(depth: ResNetDepth, seed: number, numClasses = 1000): StateDict {
  const layout = resnetLayout(depth);
  const rng = new Rng(seed);
  const sd: StateDict = new Map();
  const add = (c: ConvSpec) => {
    const n = c.outC * c.inC * c.k * c.k;
    const std = Math.sqrt(2 / (c.outC * c.k * c.k));
    const w = new Float32Array(n);
    for (let i = 0; i < n; i++) w[i] = rng.normal() * std;
    sd.set(`${c.name}.weight`, f32([c.outC, c.inC, c.k, c.k], w));
    sd.set(`${c.bn}.weight`, f32([c.outC], new Float32Array(c.outC).fill(1)));
    sd.set(`${c.bn}.bias`, f32([c.outC]));
    sd.set(`${c.bn}.running_mean`, f32([c.outC]));
    sd.set(`${c.bn}.running_var`, f32([c.outC], new Float32Array(c.outC).fill(1)));
    sd.set(`${c.bn}.num_batches_tracked`, tensor('int64', [], new BigInt64Array(1)));
  };
  add(layout.stem);
  for (const b of layout.blocks) {
    b.convs.forEach(add);
    if (b.downsample) add(b.downsample);
  }
  // nn.Linear's default: kaiming_uniform(a=√5) on the weight and the bias both reduce to U(±1/√fan_in).
  const bound = 1 / Math.sqrt(layout.featureDim);
  sd.set(
    'fc.weight',
    f32([numClasses, layout.featureDim], rng.uniformArray(numClasses * layout.featureDim, -bound, bound)),
  );
  sd.set('fc.bias', f32([numClasses], rng.uniformArray(numClasses, -bound, bound)));
  return sd;
}
