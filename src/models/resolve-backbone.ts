import { existsSync } from 'node:fs';
import { IMAGENET_PREPROCESS, type Backbone } from './backbone.js';
import { loadOnnxBackbone } from './load-onnx-backbone.js';
import { buildResNet, type ResNetDepth } from './resnet.js';
import { resolveResNetWeights } from './torchvision-weights.js';

/**
 * A backbone from a user's spec: `resnet18|34|50` (ImageNet weights from `weights`, a local file or URL,
 * else torchvision's download) or a path to any ONNX CNN.
 */
export async function resolveBackbone(
  spec: string,
  weights?: string,
  imageSize?: [number, number],
): Promise<Backbone> {
  const resnet = /^resnet(18|34|50)$/.exec(spec);
  if (resnet) {
    const depth = Number(resnet[1]) as ResNetDepth;
    const preprocess = imageSize ? { ...IMAGENET_PREPROCESS, size: imageSize } : undefined;
    return buildResNet(depth, await resolveResNetWeights(depth, weights), { preprocess });
  }
  if (spec.toLowerCase().endsWith('.onnx')) {
    if (!existsSync(spec)) throw new Error(`--backbone ${spec}: file not found`);
    return loadOnnxBackbone(spec, { imageSize });
  }
  throw new Error(
    `--backbone ${spec}: unknown; use resnet18, resnet34, resnet50 or the path of an .onnx model`,
  );
}
